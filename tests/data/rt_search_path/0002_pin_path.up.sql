alter function public.answer() set search_path = pg_catalog, public;
