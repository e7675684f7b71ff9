create table if not exists public.u (id int);
