drop policy notes_author_delete on public.notes;
drop policy notes_author_update on public.notes;
drop policy notes_author_insert on public.notes;
drop policy notes_member_select on public.notes;
drop policy projects_member_all on public.projects;
drop policy members_same_org_select on public.members;
drop policy organisations_member_select on public.organisations;

alter table public.notes disable row level security;
alter table public.projects disable row level security;
alter table public.members disable row level security;
alter table public.organisations disable row level security;
