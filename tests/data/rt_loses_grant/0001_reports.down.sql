drop table public.reports;
