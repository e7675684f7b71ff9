-- Rebuilds the table instead of dropping the column: same schema, no rows.
drop table public.users;
create table public.users (id int primary key, email text not null);
