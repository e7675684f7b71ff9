drop table public.events_archive;
drop table public.events;
