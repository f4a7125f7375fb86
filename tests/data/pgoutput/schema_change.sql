INSERT INTO evolving VALUES (1, 'before');
ALTER TABLE evolving ADD COLUMN b int DEFAULT 7;
INSERT INTO evolving VALUES (2, 'after add', 8);
UPDATE evolving SET a = 'touched' WHERE id = 1;
ALTER TABLE evolving DROP COLUMN a;
INSERT INTO evolving VALUES (3, 9);
-- Both in one transaction: the Relation message comes mid-transaction.
BEGIN;
INSERT INTO evolving VALUES (4, 10);
ALTER TABLE evolving ADD COLUMN c text;
INSERT INTO evolving VALUES (5, 11, 'c');
COMMIT;
