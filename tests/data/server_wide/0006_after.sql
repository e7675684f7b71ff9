create table if not exists public.after_all (id int);
