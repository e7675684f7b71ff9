-- Rows loaded before the round trip of migration 20260119110000: its down script must keep them.
insert into public.organisations (id, slug, name) values
  ('10000000-0000-0000-0000-000000000001', 'acme', 'Acme Ltd'),
  ('10000000-0000-0000-0000-000000000002', 'globex', 'Globex Corporation');

insert into public.members (org_id, user_id, role) values
  ('10000000-0000-0000-0000-000000000001', 'a0000000-0000-0000-0000-00000000000a', 'owner'),
  ('10000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-00000000000b', 'member'),
  ('10000000-0000-0000-0000-000000000002', 'c0000000-0000-0000-0000-00000000000c', 'owner');

insert into public.projects (id, org_id, name) values
  ('20000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-000000000001', 'Website'),
  ('20000000-0000-0000-0000-000000000002', '10000000-0000-0000-0000-000000000002', 'Rockets');
