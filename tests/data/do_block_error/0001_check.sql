create table public.counters (n int);

do $$
declare
  total int;
begin
  select count(*) into total from public.counters;
  raise exception 'counters must not be empty (found %)', total;
end
$$;
