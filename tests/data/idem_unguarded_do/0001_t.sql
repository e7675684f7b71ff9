create table if not exists public.t (id int);

do $$
begin
  alter table public.t add column created_at timestamptz;
end
$$;
