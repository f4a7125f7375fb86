CREATE TABLE ident_default (id int PRIMARY KEY, a text, b int);
CREATE TABLE ident_full (id int PRIMARY KEY, a text, b int);
ALTER TABLE ident_full REPLICA IDENTITY FULL;
CREATE TABLE ident_nothing (id int, a text);
ALTER TABLE ident_nothing REPLICA IDENTITY NOTHING;
CREATE TABLE ident_index (id int NOT NULL, code text NOT NULL, a text);
CREATE UNIQUE INDEX ident_index_code ON ident_index (code);
ALTER TABLE ident_index REPLICA IDENTITY USING INDEX ident_index_code;
CREATE PUBLICATION walbus_test FOR TABLE ident_default, ident_full, ident_nothing, ident_index
    WITH (publish = 'insert, update, delete, truncate');
