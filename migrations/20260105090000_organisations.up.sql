-- Organisations and their members.

-- Roles are cluster-wide, so create them only when missing; the down script
-- leaves them in place for the same reason.
do $$
begin
  if not exists (select from pg_roles where rolname = 'app_user') then
    create role app_user nologin;
  end if;
end
$$;

create type public.member_role as enum ('owner', 'admin', 'member');

create table public.organisations (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9-]+$'),
  name text not null,
  created_at timestamptz not null default now()
);

create table public.members (
  org_id uuid not null references public.organisations (id) on delete cascade,
  user_id uuid not null,
  role public.member_role not null default 'member',
  joined_at timestamptz not null default now(),
  primary key (org_id, user_id)
);

create index members_user_id_idx on public.members (user_id);

comment on table public.organisations is 'A customer account; owns projects.';
