-- Recorded with streaming on and logical_decoding_work_mem = 64kB (record.sh, stream_* cases):
-- every transaction below that writes more than a few hundred rows is streamed in blocks.
--@ session 1
-- A normal transaction first: small's Relation is sent outside any stream.
INSERT INTO small VALUES (1, 'before');
-- A large transaction, with a small one committed by the other session while it is open.
BEGIN;
INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, 2500) g;
SELECT pg_logical_emit_message(true, 'walbus', 'inside a streamed transaction');
--@ session 2
INSERT INTO small VALUES (2, 'committed while big is open');
--@ session 1
INSERT INTO big SELECT g, 'row ' || g FROM generate_series(2501, 5000) g;
UPDATE big SET note = 'updated' WHERE id <= 10;
DELETE FROM big WHERE id BETWEEN 11 AND 20;
COMMIT;
-- A streamed transaction rolled back: none of it may come out.
BEGIN;
INSERT INTO big SELECT g, 'rolled back ' || g FROM generate_series(10001, 10800) g;
INSERT INTO small VALUES (3, 'rolled back');
ROLLBACK;
-- A subtransaction rolled back after some of its changes were streamed.
BEGIN;
INSERT INTO big SELECT g, 'kept ' || g FROM generate_series(20001, 20100) g;
SAVEPOINT s1;
INSERT INTO big SELECT g, 'rolled back to s1 ' || g FROM generate_series(21001, 21800) g;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO big SELECT g, 'kept ' || g FROM generate_series(20101, 20200) g;
COMMIT;
-- A column added inside a streamed transaction: the new Relation counts once it commits.
BEGIN;
INSERT INTO big SELECT g, 'before add ' || g FROM generate_series(30001, 30400) g;
ALTER TABLE big ADD COLUMN extra text;
INSERT INTO big SELECT g, 'after add ' || g, 'extra ' || g FROM generate_series(30401, 30800) g;
COMMIT;
-- A normal transaction after it, with the new column.
INSERT INTO big VALUES (40001, 'after', 'extra');
