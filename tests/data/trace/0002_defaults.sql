alter table public.orders add column token uuid default gen_random_uuid();
alter table public.orders add column created timestamptz default clock_timestamp();
alter table public.orders add column f int default char_length('x');
select 1;
