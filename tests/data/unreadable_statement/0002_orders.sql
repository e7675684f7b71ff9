create table orders (id int primary key, amount numeric(10,2);
create index on orders (amount);
