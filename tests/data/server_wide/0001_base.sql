create table if not exists base (id int);
