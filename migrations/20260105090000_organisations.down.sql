drop table public.members;
drop table public.organisations;
drop type public.member_role;
