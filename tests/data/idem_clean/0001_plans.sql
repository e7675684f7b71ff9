create table if not exists public.plans (name text primary key, price int);
insert into public.plans values ('free', 0) on conflict (name) do nothing;
create or replace function public.plan_price(p text) returns int language sql stable as $$ select price from public.plans where name = p $$;
create index if not exists plans_price_idx on public.plans (price);
do $$
begin
  if not exists (select from pg_constraint where conname = 'plans_price_check') then
    alter table public.plans add constraint plans_price_check check (price >= 0);
  end if;
end
$$;
