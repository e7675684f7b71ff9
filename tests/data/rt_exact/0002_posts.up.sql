create table public.posts (id int primary key, user_id int references public.users (id), body text);
