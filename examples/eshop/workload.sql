-- What the services do: a few commits that the rules turn into events.
INSERT INTO catalog_items VALUES
    (1, '.NET Bot Black Hoodie', 19.50, 100, '.NET'),
    (2, '.NET Black & White Mug', 8.50, 89, '.NET'),
    (3, 'Prism White T-Shirt', 12.00, 56, 'Other');
INSERT INTO orders (id, buyer_id, status, total) VALUES (1001, 'b7f9-buyer', 'Submitted', 40.50);

-- A price change: ProductPriceChangedIntegrationEvent.
UPDATE catalog_items SET price = 24.99 WHERE id = 1;
-- A rename: no event (no rule matches).
UPDATE catalog_items SET name = 'Prism White Tee' WHERE id = 3;
-- An order goes through its states, with the stock taken in the same transaction.
BEGIN;
UPDATE orders SET status = 'StockConfirmed', updated_at = now() WHERE id = 1001;
UPDATE catalog_items SET available_stock = available_stock - 2 WHERE id = 2;
COMMIT;
UPDATE orders SET status = 'Paid', updated_at = now() WHERE id = 1001;
-- A rolled-back change never becomes an event.
BEGIN;
UPDATE catalog_items SET price = 1.00 WHERE id = 2;
ROLLBACK;
