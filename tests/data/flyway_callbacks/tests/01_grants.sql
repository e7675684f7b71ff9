begin;
select plan(2);
select ok(has_table_privilege('reporting_ci', 'public.orders', 'select'), 'afterMigrate granted select on orders');
select ok(not has_table_privilege('reporting_ci', 'public.orders', 'insert'), 'and nothing more');
select * from finish();
rollback;
