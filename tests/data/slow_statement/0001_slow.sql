create table public.t (id int);
select pg_sleep(30);
