-- Replaces the owner index with one on (owner, id).
drop index public.notes_owner_idx;
create index notes_owner_id_idx on public.notes (owner, id);
