drop table public.b;
