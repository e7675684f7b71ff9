alter table public.events_archive no inherit public.events;
