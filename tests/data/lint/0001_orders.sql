create table if not exists public.orders (id bigint primary key, user_id bigint, note text);
