create table public.orders (id bigint generated always as identity primary key, account bigint not null references public.accounts);
