revoke select on public.posts from public;
drop index public.posts_status_idx;
alter table public.posts drop column status;
drop type public.status;
