create table public.accounts (id int primary key);
