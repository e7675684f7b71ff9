-- Inherits again, but the columns stay the archive's own (dropping one from events would keep it here).
alter table public.events_archive inherit public.events;
