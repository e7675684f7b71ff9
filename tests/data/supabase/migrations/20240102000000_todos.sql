-- uuid_generate_v4() unqualified: the extensions schema is on the search_path.
create extension if not exists "uuid-ossp" with schema extensions;
create table todos (
  id uuid default uuid_generate_v4() primary key,
  user_id uuid references auth.users not null default auth.uid(),
  task text check (char_length(task) > 3),
  is_complete boolean default false,
  inserted_at timestamptz default timezone('utc'::text, now()) not null
);
alter table todos enable row level security;
create policy "Individuals can create todos." on todos for insert to authenticated
  with check ((select auth.uid()) = user_id);
create policy "Individuals can view their own todos." on todos for select to authenticated
  using ((select auth.uid()) = user_id);
create policy "Service role sees everything." on todos for select to service_role using (auth.role() = 'service_role');
create index todos_user_id_idx on todos (user_id);
alter publication supabase_realtime add table todos;
