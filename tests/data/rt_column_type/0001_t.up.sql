create table public.t (id int primary key, amount integer not null);
