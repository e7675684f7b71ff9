-- PostgreSQL 18 names NOT NULL constraints; 15 has none by that name.
alter table public.t alter column name drop not null;
