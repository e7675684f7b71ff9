-- The other helpers, loaded the way older files load them.
BEGIN;
CREATE EXTENSION supabase_test_helpers version '0.0.4';
select plan(11);

select tests.rls_enabled('public', 'notes');
select tests.create_supabase_user('carol', 'carol@example.com', '555-0100', '{"plan": "pro"}'::jsonb);
select is(tests.get_supabase_user('carol') ->> 'email', 'carol@example.com', 'get_supabase_user has the email');
select is(tests.get_supabase_user('carol') -> 'raw_user_meta_data' ->> 'plan', 'pro', 'and the metadata');
select throws_ok($$ select tests.authenticate_as('nobody') $$, 'User with identifier nobody not found');

select tests.authenticate_as('carol');
select is(current_role::text, 'authenticated', 'authenticate_as switches to authenticated');
select ok(current_setting('request.jwt.claims')::jsonb ?& array['sub', 'email', 'phone', 'user_metadata', 'app_metadata'],
          'the claims have what GoTrue puts there');
select is(auth.email(), 'carol@example.com', 'auth.email() reads them');

select tests.authenticate_as_service_role();
select is(current_role::text, 'service_role', 'authenticate_as_service_role');

select tests.clear_authentication();
select is(current_setting('request.jwt.claims'), '', 'clear_authentication empties the claims');

reset role;
select tests.freeze_time('2020-01-01 00:00:00+00');
select is(now(), '2020-01-01 00:00:00+00'::timestamptz, 'freeze_time stops now()');
select tests.unfreeze_time();
select isnt(now(), '2020-01-01 00:00:00+00'::timestamptz, 'unfreeze_time lets it go');

select * from finish();
ROLLBACK;
