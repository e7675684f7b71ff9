-- pgmt:no-transaction
alter table public.orders add column rnd int default (random() * 10)::int;
create index concurrently if not exists orders_rnd on public.orders (rnd);
