-- Rebuilds the table without its note, and forgets INHERITS.
drop table public.events_archive;
create table public.events_archive (id int not null, at timestamptz);
