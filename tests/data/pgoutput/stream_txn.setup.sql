CREATE TABLE big (id int PRIMARY KEY, note text);
CREATE TABLE small (id int PRIMARY KEY, note text);
CREATE PUBLICATION walbus_test FOR TABLE big, small;
