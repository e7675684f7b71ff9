-- A helper the next file uses, kept: it is created outside the transaction
-- the tests roll back (supabase test db runs the files in order on one database).
create or replace function public.make_item(n text) returns int language sql as $$
  insert into public.items (name) values (n) returning id
$$;

begin;
select plan(1);
select ok(public.make_item('first') > 0, 'the helper inserts an item');
select * from finish();
rollback;
