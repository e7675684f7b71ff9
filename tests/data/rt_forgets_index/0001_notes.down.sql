drop table public.notes;
