-- Runs on every migrate, so it creates the role only when missing.
do $$ begin
  if not exists (select from pg_roles where rolname = 'reporting_${env}') then
    create role reporting_${env} nologin;
  end if;
end $$;
