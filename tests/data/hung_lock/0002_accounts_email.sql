-- Needs an ACCESS EXCLUSIVE lock on accounts; the test holds a conflicting one.
alter table public.accounts add column email text;
