SET TimeZone = 'America/New_York';
INSERT INTO typed VALUES (
    1, true, -32768, 2147483647, 9223372036854775807, 1.5, 3.141592653589793, 12345678901234567890.123456789, 19.99,
    E'line1\nline2\t"quoted" \\ é 日本', 'varchar', 'ab', '{"a": [1, 2.5, null]}', '{"b": {"c": true}}',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '2026-11-22', '2026-11-22 03:47:22.123456', '2026-11-22 03:47:22.5-05', '23:59:59.999', '1 year 2 mons 3 days 04:05:06',
    '\x00ff10', 'happy', '{1,NULL,3}', 4242);
INSERT INTO typed (id, f4, f8, n, d, ts, tstz) VALUES
    (2, 'NaN', '-Infinity', 'NaN', 'infinity', '-infinity', 'infinity');
INSERT INTO typed (id) VALUES (3);
