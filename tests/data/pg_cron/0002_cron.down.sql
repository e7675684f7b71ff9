select cron.unschedule('purge-events');
drop extension pg_cron;
