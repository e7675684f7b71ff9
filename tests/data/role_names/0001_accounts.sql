-- Everything that names the role running the migrations: owners, grantors,
-- the owner's own privileges, a policy's roles, default privileges. Its
-- snapshot is the same on a temp cluster (as postgres) and on an external
-- server as a role of another name.
do $$
begin
  if not exists (select from pg_roles where rolname = 'app_reader') then
    create role app_reader nologin;
  end if;
end
$$;

create schema app;
comment on schema app is 'accounts';
create type app.kind as enum ('personal', 'business');
create table app.accounts (
  id bigint generated always as identity primary key,
  holder text not null default current_user,
  kind app.kind not null default 'personal',
  balance numeric not null default 0
);
alter table app.accounts enable row level security;
create policy accounts_holder on app.accounts for select to app_reader, current_user
  using (holder = current_user);
grant usage on schema app to app_reader;
grant select on app.accounts to app_reader;
grant update (balance) on app.accounts to app_reader;
create view app.balances as select id, balance from app.accounts;
grant select on app.balances to app_reader with grant option;
create sequence app.tickets;
grant usage on sequence app.tickets to app_reader;
