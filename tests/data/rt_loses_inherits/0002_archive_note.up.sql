alter table public.events_archive add column note text;
