create table if not exists public.accounts (id bigint generated always as identity primary key, name text not null);
