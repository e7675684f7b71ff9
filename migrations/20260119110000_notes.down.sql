revoke all on public.organisations, public.members, public.projects from app_user;
revoke usage on schema public from app_user;
drop function public.is_member(uuid);
drop function public.current_app_user();
drop table public.notes;
