-- Deploy notes:notes_body to pg
set lock_timeout = '2s';
alter table public.notes add column body text;
create index concurrently notes_body on public.notes (body);
