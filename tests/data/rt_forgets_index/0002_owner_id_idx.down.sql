-- Forgets to bring back notes_owner_idx.
drop index public.notes_owner_id_idx;
