-- migrate:up
create table public.users (id int primary key, email text not null unique);

-- migrate:down
drop table public.users;
