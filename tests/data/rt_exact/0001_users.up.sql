create table public.users (id int primary key, email text not null unique);
