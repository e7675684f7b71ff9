-- Deploy flipr:insert_user to pg
-- requires: users
-- requires: appschema

BEGIN;

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE OR REPLACE FUNCTION flipr.insert_user(
    nickname TEXT,
    password TEXT
) RETURNS VOID LANGUAGE SQL SECURITY DEFINER SET search_path = pg_catalog, flipr, public AS $$
    INSERT INTO flipr.users VALUES($1, crypt($2, gen_salt('md5')));
$$;

COMMIT;
