-- Flyway reads 1_10 as 1.10, after 1.9 (byte order would put it before 1_9).
alter table ${app_schema}.accounts add column plan int references ${app_schema}.plans;
