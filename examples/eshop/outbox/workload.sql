-- What the services do: business changes with their events written in the same transaction.

-- The catalog service changes a price and writes the event to the common outbox.
BEGIN;
INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) VALUES
    ('7d4b3c6e-2f1a-4e8b-9c5d-0a1b2c3d4e5f', 'catalog', '1', 'ProductPriceChanged',
     '{"ProductId": 1, "NewPrice": 24.99, "OldPrice": 19.50}');
COMMIT;

-- The basket service checks a basket out: one event for the basket aggregate.
INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) VALUES
    ('3e9a8f21-6c5d-4b7a-8e1f-2d3c4b5a6978', 'basket', 'b7f9-buyer', 'UserCheckoutAccepted',
     '{"UserId": "b7f9-buyer", "City": "Redmond", "Items": [{"ProductId": 1, "Quantity": 2}]}');

-- A relay that deletes published rows: nothing to publish.
DELETE FROM outbox WHERE id = '7d4b3c6e-2f1a-4e8b-9c5d-0a1b2c3d4e5f';

-- The ordering service, as the .NET sample does it: the event is saved with State 0
-- (NotPublished) in the transaction of the order's change ...
BEGIN;
INSERT INTO "IntegrationEventLog" VALUES
    ('5f0c2a7e-8b1d-4c3e-9a6f-7e8d9c0b1a2f',
     'eShop.Ordering.API.Application.IntegrationEvents.Events.OrderStatusChangedToSubmittedIntegrationEvent',
     0, 0, '2024-05-01 10:00:00+00',
     '{"OrderId":1001,"OrderStatus":"Submitted","BuyerName":"b7f9-buyer","BuyerIdentityGuid":"b7f9-buyer","Id":"5f0c2a7e-8b1d-4c3e-9a6f-7e8d9c0b1a2f","CreationDate":"2024-05-01T10:00:00Z"}',
     'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d');
COMMIT;
-- ... then its publisher marks it InProgress and Published: updates, which publish nothing.
UPDATE "IntegrationEventLog" SET "State" = 1, "TimesSent" = "TimesSent" + 1
    WHERE "EventId" = '5f0c2a7e-8b1d-4c3e-9a6f-7e8d9c0b1a2f';
UPDATE "IntegrationEventLog" SET "State" = 2
    WHERE "EventId" = '5f0c2a7e-8b1d-4c3e-9a6f-7e8d9c0b1a2f';

-- The ordering service's grace period ends: a message, no table at all.
SELECT pg_logical_emit_message(true, 'ordering', '{"OrderId":1001}') IS NOT NULL AS emitted;
