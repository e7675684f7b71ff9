insert into auth.users (id, aud, role, email) values
  ('00000000-0000-0000-0000-00000000000a', 'authenticated', 'authenticated', 'alice@example.com');
insert into public.notes (owner, body) values ('00000000-0000-0000-0000-00000000000a', 'seeded');
