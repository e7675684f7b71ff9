drop trigger projects_set_updated_at on public.projects;
drop function public.set_updated_at();
drop table public.projects;
