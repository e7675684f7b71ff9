drop table public.a;
