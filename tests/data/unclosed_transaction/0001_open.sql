create table public.a (id int);
begin;
create table public.b (id int);
