create type public.status as enum ('draft', 'live');
alter table public.posts add column status public.status not null default 'draft';
create index posts_status_idx on public.posts (status);
grant select on public.posts to public;
