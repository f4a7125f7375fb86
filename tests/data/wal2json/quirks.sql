INSERT INTO "Odd Schema"."we""ird.tab,le*" VALUES (1, E'a "b" \\ c\u0001', '\x00ff');
UPDATE "Odd Schema"."we""ird.tab,le*" SET "x y" = E'tab\there' WHERE "co,l" = 1;
UPDATE "Odd Schema"."we""ird.tab,le*" SET "co,l" = 2;
DELETE FROM "Odd Schema"."we""ird.tab,le*";
-- NaN and infinities: wal2json prints null for them.
INSERT INTO public."a\b" VALUES (1, 'Infinity', 'NaN'), (2, -1.5e-300, '-0.000100');
TRUNCATE public."a\b";
-- Left out by add-tables: an empty transaction.
INSERT INTO public.not_replicated VALUES (1);
-- Not UTF-8, and a NUL byte: wal2json passes the bytes up to the first NUL.
SELECT pg_logical_emit_message(true, 'bytes', '\xff41c3'::bytea);
SELECT pg_logical_emit_message(false, 'nul', 'a\000b'::bytea);
