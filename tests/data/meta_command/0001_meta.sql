create table public.t (id int);
-- psql would read the next line itself; the server never could.
\set ON_ERROR_STOP on
insert into public.t values (1);
