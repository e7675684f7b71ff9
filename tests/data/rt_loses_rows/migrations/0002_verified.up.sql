alter table public.users add column verified boolean not null default false;
