-- Several tables and every operation in one transaction.
BEGIN;
INSERT INTO catalog_items VALUES (1, 'kettle', 24.99), (2, 'toaster', 39.00);
INSERT INTO orders VALUES (100, 1, 'new');
UPDATE catalog_items SET price = 19.99 WHERE id = 1;
DELETE FROM catalog_items WHERE id = 2;
UPDATE orders SET state = 'paid' WHERE order_id = 100;
COMMIT;
-- A rolled-back transaction produces nothing.
BEGIN;
INSERT INTO catalog_items VALUES (3, 'never', 1);
ROLLBACK;
-- A multi-row statement: many changes at one statement.
INSERT INTO order_lines SELECT 100, g, g * 2 FROM generate_series(1, 5) g;
-- A key change: the old key comes as a 'K' tuple.
UPDATE catalog_items SET id = 10 WHERE id = 1;
-- Truncate of two tables, with options.
TRUNCATE orders, order_lines RESTART IDENTITY CASCADE;
-- Single-row autocommit statements.
INSERT INTO catalog_items VALUES (4, 'it''s "quoted" \ backslash', NULL);
DELETE FROM catalog_items WHERE id = 4;
