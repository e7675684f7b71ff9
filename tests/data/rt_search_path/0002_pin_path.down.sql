-- Forgets: alter function public.answer() reset search_path;
select 1;
