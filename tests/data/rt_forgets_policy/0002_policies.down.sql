-- Forgets owner_update and restores owner_select wrongly.
drop policy owner_select on public.notes;
create policy owner_select on public.notes for select using (owner = session_user);
