SELECT pg_logical_emit_message(false, 'walbus.test', 'not in a transaction');
BEGIN;
INSERT INTO t VALUES (1);
SELECT pg_logical_emit_message(true, 'outbox', '{"type":"OrderPaid","id":1}');
INSERT INTO t VALUES (2);
COMMIT;
SELECT pg_logical_emit_message(true, 'binary', '\x00ff'::bytea);
-- A transaction from a replication origin carries an Origin message.
SELECT pg_replication_origin_session_setup('upstream');
INSERT INTO t VALUES (3);
