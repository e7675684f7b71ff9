create function public.answer() returns int language sql as $$ select 42 $$;
