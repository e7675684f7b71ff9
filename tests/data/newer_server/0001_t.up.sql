create table if not exists public.t (id int, name text not null);
