drop function public.answer();
