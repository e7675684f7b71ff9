create table ${app_schema}.plans (id int primary key, title text not null);
