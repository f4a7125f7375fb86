CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE typed (
    id int PRIMARY KEY,
    b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric, n2 numeric(12,4),
    t text, vc varchar(20), ch char(3), j json, jb jsonb, u uuid,
    d date, ts timestamp, tstz timestamptz, tm time, iv interval,
    by bytea, m mood, ia int[], o oid
);
CREATE PUBLICATION walbus_test FOR TABLE typed;
