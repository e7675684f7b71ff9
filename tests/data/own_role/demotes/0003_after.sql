-- Needs a superuser (an event trigger): pgmt's own role runs it, whatever
-- became of postgres.
create or replace function public.log_ddl() returns event_trigger language plpgsql as $$
begin
  raise notice 'ddl: %', tg_tag;
end $$;
drop event trigger if exists log_ddl;
create event trigger log_ddl on ddl_command_end execute function public.log_ddl();
create table if not exists public.tokens (id bigint primary key, account bigint references public.accounts);
alter table public.tokens owner to postgres;
do $$
begin
  if current_user = 'postgres' then
    raise exception 'migrations must not run as postgres';
  end if;
end $$;
