-- Verify flipr:insert_user on pg

BEGIN;

SELECT has_function_privilege('flipr.insert_user(text, text)', 'execute');
SELECT 1 / COUNT(*) FROM pg_catalog.pg_extension WHERE extname = 'pgcrypto';

ROLLBACK;
