alter type public.mood add value 'happy';
