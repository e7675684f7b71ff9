create policy owner_update on public.notes for update using (owner = current_user);
drop policy owner_select on public.notes;
create policy owner_select on public.notes for select using (true);
