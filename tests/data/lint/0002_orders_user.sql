-- Indexes orders by user, and drops a column the application no longer reads.
set lock_timeout = '2s';
create index if not exists orders_user_idx on public.orders (user_id);
-- pgmt:lint-ignore ban-drop-column the application stopped reading it in release 41
alter table public.orders drop column if exists note;
