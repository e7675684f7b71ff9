alter table public.orders alter column code type varchar(20);
alter table public.orders alter column amount type bigint;
