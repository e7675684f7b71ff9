begin;
select plan(1);
select is(public.make_item('second'), 2, 'the second item gets id 2');
select * from finish();
rollback;
