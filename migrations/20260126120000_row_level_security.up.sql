-- Members see their own organisations' rows; authors change only their notes.

alter table public.organisations enable row level security;
alter table public.members enable row level security;
alter table public.projects enable row level security;
alter table public.notes enable row level security;

create policy organisations_member_select on public.organisations
  for select to app_user using (public.is_member(id));

create policy members_same_org_select on public.members
  for select to app_user using (public.is_member(org_id));

create policy projects_member_all on public.projects
  for all to app_user
  using (public.is_member(org_id))
  with check (public.is_member(org_id));

create policy notes_member_select on public.notes
  for select to app_user
  using (exists (select 1 from public.projects p where p.id = project_id));

create policy notes_author_insert on public.notes
  for insert to app_user
  with check (author_id = public.current_app_user()
              and exists (select 1 from public.projects p where p.id = project_id));

create policy notes_author_update on public.notes
  for update to app_user
  using (author_id = public.current_app_user())
  with check (author_id = public.current_app_user());

create policy notes_author_delete on public.notes
  for delete to app_user
  using (author_id = public.current_app_user());
