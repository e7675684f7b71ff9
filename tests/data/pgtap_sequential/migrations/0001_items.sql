create table if not exists public.items (id int generated always as identity primary key, name text not null);
