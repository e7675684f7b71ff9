begin;
select plan(3);
select is(1 + 1, 3, 'arithmetic is broken');
select has_table('public', 't', 'the table is there');
select * from finish();
rollback;
