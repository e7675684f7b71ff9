-- A user as Supabase seeds create them, with the GoTrue columns.
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at, confirmation_token, email_change,
  email_change_token_new, recovery_token)
values ('00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-00000000000a', 'authenticated',
  'authenticated', 'alice@example.com', crypt('password', gen_salt('bf', 4)), now(),
  '{"provider": "email", "providers": ["email"]}', '{"username": "alice"}', now(), now(), '', '', '', '');
insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
values ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000a',
  '{"sub": "00000000-0000-0000-0000-00000000000a", "email": "alice@example.com"}', 'email', now(), now(), now());
insert into public.todos (user_id, task) values ('00000000-0000-0000-0000-00000000000a', 'write the tests');
-- The trigger of the first migration made alice's profile.
do $$
begin
  if (select username from public.profiles) is distinct from 'alice' then
    raise exception 'handle_new_user did not create the profile';
  end if;
end
$$;
