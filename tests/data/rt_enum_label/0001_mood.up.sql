create type public.mood as enum ('sad', 'ok');
