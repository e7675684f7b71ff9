create table if not exists public.plans (name text, price int);
insert into public.plans values ('free', 0);
