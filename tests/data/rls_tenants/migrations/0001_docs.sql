do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'pgmt_test_app_user') then
    create role pgmt_test_app_user nologin;
  end if;
end
$$;
create table public.docs (id int primary key, tenant_id int not null, title text);
alter table public.docs enable row level security;
create policy tenant_isolation on public.docs using (tenant_id = current_setting('app.tenant_id')::int);
grant select, insert on public.docs to pgmt_test_app_user;
