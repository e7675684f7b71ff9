-- This file manages its own transactions.
begin;
create table public.a (id int);
commit;

begin;
create table public.b (id int);
commit;

create index concurrently b_id_idx on public.b (id);
