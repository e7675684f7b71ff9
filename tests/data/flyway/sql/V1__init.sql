create schema ${app_schema};
create table ${app_schema}.accounts (id bigint generated always as identity primary key, name text not null);
