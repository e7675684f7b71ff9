-- Revert notes:notes_body from pg
drop index concurrently public.notes_body;
alter table public.notes drop column body;
