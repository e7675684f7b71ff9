create table if not exists public.events (id bigint generated always as identity primary key, at timestamptz not null default now());
