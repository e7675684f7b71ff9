-- Orders with rows, so that a rewrite has something to rewrite.
create table public.orders (id bigint primary key, code varchar(10), amount int, note text);
insert into public.orders select g, g::text, g, null from generate_series(1, 1000) g;
