-- wal2json only: names that need quoting and escaping, and message contents wal2json cannot
-- carry whole.
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."we""ird.tab,le*" ("co,l" int PRIMARY KEY, "x y" text, "ünï" bytea);
CREATE TABLE public."a\b" (id int PRIMARY KEY, f float8, n numeric);
CREATE TABLE public.not_replicated (id int PRIMARY KEY);
