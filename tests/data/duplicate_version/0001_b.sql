create table public.b (id int);
