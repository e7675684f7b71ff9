do $$
begin
  if not exists (select from pg_roles where rolname = 'server_wide_reader') then
    create role server_wide_reader nologin;
  end if;
end
$$;
alter role server_wide_reader set statement_timeout = '5s';
alter role current_user set search_path = nothing;
