-- The eShop scenario: the catalog service's and the ordering service's tables, as the services
-- write them. walbus reads their changes; the services know nothing of it.

CREATE TABLE catalog_items (
    id              integer PRIMARY KEY,
    name            text NOT NULL,
    price           numeric(10, 2) NOT NULL,
    available_stock integer NOT NULL,
    catalog_brand   text NOT NULL
);
-- OldPrice and the stock's old value are not part of the primary key: PostgreSQL logs them only
-- with REPLICA IDENTITY FULL (walbus check --connect says so when it is missing).
ALTER TABLE catalog_items REPLICA IDENTITY FULL;

CREATE TABLE orders (
    id         integer PRIMARY KEY,
    buyer_id   text NOT NULL,
    status     text NOT NULL,
    total      numeric(12, 2) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE orders REPLICA IDENTITY FULL;

CREATE PUBLICATION eshop FOR TABLE catalog_items, orders;
