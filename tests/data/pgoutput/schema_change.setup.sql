CREATE TABLE evolving (id int PRIMARY KEY, a text);
CREATE PUBLICATION walbus_test FOR TABLE evolving;
