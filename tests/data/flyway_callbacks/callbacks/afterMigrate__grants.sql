-- After the last migration: every table is there to grant on.
grant select on all tables in schema public to reporting_${env};
