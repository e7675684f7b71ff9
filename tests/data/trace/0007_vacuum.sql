-- pgmt:no-transaction
insert into public.orders (id, code, amount) select g, g::text, g from generate_series(1001, 100000) g;
vacuum full public.orders;
create index concurrently if not exists orders_amount on public.orders (amount);
