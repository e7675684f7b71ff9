create function app.balance_of(account bigint) returns numeric
  language sql stable security definer set search_path = ''
  as $$ select balance from app.accounts where id = account $$;
revoke execute on function app.balance_of(bigint) from public;
grant execute on function app.balance_of(bigint) to app_reader;
alter default privileges in schema app grant select on tables to app_reader;
alter default privileges revoke execute on functions from public;
