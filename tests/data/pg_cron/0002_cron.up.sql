-- pg_cron may only be created in the database cron.database_name names.
create extension if not exists pg_cron;
select cron.schedule('purge-events', '0 3 * * *', $$delete from public.events where at < now() - interval '30 days'$$);
