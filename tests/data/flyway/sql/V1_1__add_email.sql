alter table ${app_schema}.accounts add column email text;
