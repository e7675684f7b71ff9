create table public.notes (
  id bigint generated always as identity primary key,
  owner uuid not null default auth.uid() references auth.users (id),
  body text not null
);
alter table public.notes enable row level security;
create policy notes_select on public.notes for select to authenticated using (owner = (select auth.uid()));
create policy notes_insert on public.notes for insert to authenticated with check (owner = (select auth.uid()));
create policy notes_update on public.notes for update to authenticated
  using (owner = (select auth.uid())) with check (owner = (select auth.uid()));
create policy notes_delete on public.notes for delete to authenticated using (owner = (select auth.uid()));
revoke insert, update, delete on public.notes from anon;
