drop table public.t;
