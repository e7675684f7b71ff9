create table if not exists public.t (id int);
