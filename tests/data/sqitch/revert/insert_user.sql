-- Revert flipr:insert_user from pg

BEGIN;

CREATE OR REPLACE FUNCTION flipr.insert_user(
    nickname TEXT,
    password TEXT
) RETURNS VOID LANGUAGE SQL SECURITY DEFINER SET search_path = pg_catalog, flipr, public AS $$
    INSERT INTO flipr.users VALUES($1, md5($2));
$$;

DROP EXTENSION pgcrypto;

COMMIT;
