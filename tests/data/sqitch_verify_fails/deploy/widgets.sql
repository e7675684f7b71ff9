-- Deploy broken:widgets to pg

BEGIN;

CREATE TABLE widgets (id int PRIMARY KEY);

COMMIT;
