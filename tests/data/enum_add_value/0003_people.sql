create table public.people (name text, mood public.mood default 'happy');
insert into public.people (name) values ('ann');
