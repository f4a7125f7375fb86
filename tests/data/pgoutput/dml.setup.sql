CREATE TABLE catalog_items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2));
CREATE TABLE orders (order_id bigint PRIMARY KEY, item_id int, state text);
CREATE TABLE order_lines (order_id bigint, line int, qty int, PRIMARY KEY (order_id, line));
CREATE PUBLICATION walbus_test FOR TABLE catalog_items, orders, order_lines;
