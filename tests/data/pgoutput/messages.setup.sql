CREATE TABLE t (id int PRIMARY KEY);
CREATE PUBLICATION walbus_test FOR TABLE t;
SELECT pg_replication_origin_create('upstream');
