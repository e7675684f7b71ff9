create table if not exists public.orders (id bigint primary key);
create table if not exists public.invoices (id bigint primary key);
