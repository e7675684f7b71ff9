create table public.events (id int not null, at timestamptz);
create table public.events_archive () inherits (public.events);
