BEGIN;
create extension "basejump-supabase_test_helpers" version '0.0.6';

select plan(6);

select tests.rls_enabled('public');
select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob', 'bob@example.com');
insert into public.notes (owner, body) values (tests.get_supabase_uid('alice'), 'hello');

select tests.authenticate_as('alice');
select results_eq('select body from public.notes', $$values ('hello')$$, 'alice sees her note');
select is(auth.uid(), tests.get_supabase_uid('alice'), 'auth.uid() is alice');

select tests.authenticate_as('bob');
select is_empty('select * from public.notes', 'bob sees nothing');
select throws_ok(
  $$insert into public.notes (owner, body) values (tests.get_supabase_uid('alice'), 'forged')$$,
  '42501', null, 'bob cannot write as alice');

select tests.clear_authentication();
select is(auth.uid(), null, 'anon has no user');

select * from finish();
ROLLBACK;
