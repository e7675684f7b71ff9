alter table public.t add column note text;
