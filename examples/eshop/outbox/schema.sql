-- The eShop scenario with outboxes: services that already write their integration events to a
-- table in the same transaction as their business change, and one that emits them as logical
-- decoding messages. walbus publishes what lands there; the services need no publisher of their
-- own.

-- A common outbox (the layout of Debezium's outbox event router): one row per event.
CREATE TABLE outbox (
    id            uuid PRIMARY KEY,
    aggregatetype text,          -- the topic
    aggregateid   text,          -- the key: events of one aggregate stay in order
    type          text,          -- the event type
    payload       jsonb,
    created_at    timestamptz DEFAULT now()
);

-- The integration event log of the .NET microservices reference application (eShop):
-- IntegrationEventLogService saves each event here (State 0, NotPublished) in the service's
-- transaction, then marks it InProgress (1) and Published (2) as its publisher sends it.
CREATE TABLE "IntegrationEventLog" (
    "EventId"       uuid PRIMARY KEY,
    "EventTypeName" text NOT NULL,
    "State"         int NOT NULL,
    "TimesSent"     int NOT NULL,
    "CreationTime"  timestamptz NOT NULL,
    "Content"       text NOT NULL,
    "TransactionId" uuid
);

-- Messages (pg_logical_emit_message) need no table; they reach every slot of the database.
CREATE PUBLICATION eshop_outbox FOR TABLE outbox, "IntegrationEventLog";
