create table if not exists b (id bigint);
