create table ${app_schema}.invoices (id bigint primary key, account bigint not null references ${app_schema}.accounts, total numeric not null);
create index invoices_account_idx on ${app_schema}.invoices (account);
