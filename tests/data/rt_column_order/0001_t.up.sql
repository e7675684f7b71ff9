create table public.t (id int primary key, legacy text, created_at timestamptz);
