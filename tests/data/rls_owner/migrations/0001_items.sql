do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'pgmt_test_app_owner') then
    create role pgmt_test_app_owner nologin;
  end if;
end
$$;
create table public.items (id int, owner_name text);
alter table public.items owner to pgmt_test_app_owner;
alter table public.items enable row level security;
create policy own on public.items using (owner_name = current_user);
