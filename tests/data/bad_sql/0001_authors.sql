create table public.authors (id int primary key, name text not null);
