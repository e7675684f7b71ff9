alter table public.t alter column amount type numeric;
