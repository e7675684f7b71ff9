create table if not exists a (id int);
