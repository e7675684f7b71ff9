create table if not exists public.t (id int);
do $$
begin
  execute format('alter role %I nosuperuser', current_user);
end $$;
