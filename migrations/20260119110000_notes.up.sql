-- Notes written by members inside projects, and the helpers the policies use.

create table public.notes (
  id bigint generated always as identity primary key,
  project_id uuid not null references public.projects (id) on delete cascade,
  author_id uuid not null,
  title text not null check (length(title) between 1 and 200),
  body text not null default '',
  created_at timestamptz not null default now()
);

create index notes_project_id_idx on public.notes (project_id, created_at desc);

-- The application sets app.user_id for each request; policies read it here.
create function public.current_app_user() returns uuid
language sql stable
as $$ select nullif(current_setting('app.user_id', true), '')::uuid $$;

create function public.is_member(org uuid) returns boolean
language sql stable security definer
set search_path = pg_catalog, public
as $$
  select exists (
    select 1 from public.members m
    where m.org_id = org and m.user_id = public.current_app_user()
  )
$$;

revoke all on function public.is_member(uuid) from public;
grant execute on function public.is_member(uuid) to app_user;
grant execute on function public.current_app_user() to app_user;

grant usage on schema public to app_user;
grant select on public.organisations, public.members to app_user;
grant select, insert, update on public.projects to app_user;
grant select, insert, update, delete on public.notes to app_user;
