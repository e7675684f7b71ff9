alter system set default_transaction_read_only = on;
select pg_reload_conf();
