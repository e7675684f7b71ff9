-- A file with its own transactions, as every sqitch script is.
BEGIN;
do $$ begin execute $e$alter table public.orders add column seen boolean$e$; end $$;
alter table public.orders alter column code type varchar(40);
select count(*) from public.orders;
COMMIT;
