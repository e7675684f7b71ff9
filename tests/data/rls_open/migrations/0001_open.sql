-- Supabase's default privileges give anon and authenticated every table of public:
-- without row level security, anyone with the anon key reads and writes it.
create table public.secrets (id int primary key, value text);
create table public.guarded (id int primary key);
alter table public.guarded enable row level security;
