alter table public.t drop constraint t_name_not_null;
alter table public.t alter column name set not null;
