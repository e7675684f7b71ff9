alter table public.t drop column legacy;
