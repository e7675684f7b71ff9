-- Verify broken:widgets on pg

BEGIN;

SELECT id, name FROM widgets WHERE FALSE;

ROLLBACK;
