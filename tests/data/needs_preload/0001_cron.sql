-- pg_cron's setting, on a server without pg_cron preloaded.
select current_setting('cron.database_name');
