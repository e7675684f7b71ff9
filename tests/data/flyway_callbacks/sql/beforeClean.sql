-- flyway clean's: not part of migrate.
select 1;
