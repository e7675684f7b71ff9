-- Revert notes:notes from pg
drop table public.notes;
