-- Deploy notes:notes to pg (no BEGIN: psql commits each statement)
create table public.notes (id int primary key);
insert into public.notes values (1), (2);
