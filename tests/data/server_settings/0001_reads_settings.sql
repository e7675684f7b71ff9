-- SERVER_SETTINGS work_mem=3MB cron.database_name=postgres: the server has them.
do $$
begin
  if current_setting('work_mem') <> '3MB' then
    raise exception 'work_mem is %, not the 3MB of SERVER_SETTINGS', current_setting('work_mem');
  end if;
  if current_setting('cron.database_name', true) is distinct from 'postgres' then
    raise exception 'cron.database_name is not set';
  end if;
end $$;
