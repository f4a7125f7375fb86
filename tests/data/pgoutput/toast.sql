INSERT INTO docs VALUES (1, 'first', repeat('0123456789abcdef', 256));
INSERT INTO docs_full VALUES (1, 'first', repeat('fedcba9876543210', 256));
-- body is stored out of line and not changed: pgoutput sends it as 'u' (unchanged TOAST).
UPDATE docs SET title = 'second' WHERE id = 1;
-- With REPLICA IDENTITY FULL the old image carries it, the new one still does not.
UPDATE docs_full SET title = 'second' WHERE id = 1;
-- Changing it sends the new value.
UPDATE docs SET body = repeat('x', 3000) WHERE id = 1;
