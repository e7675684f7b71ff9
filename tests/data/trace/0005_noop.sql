set lock_timeout = 1000;
drop index if exists public.nothing_here;
