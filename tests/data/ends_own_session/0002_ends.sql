-- ends its own session (and so pgmt's)
select pg_terminate_backend(pg_backend_pid());
