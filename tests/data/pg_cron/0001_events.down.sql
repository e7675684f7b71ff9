drop table if exists public.events;
