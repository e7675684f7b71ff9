-- A pgTAP file: run on the reset state (every migration and the seeds).
begin;
select plan(5);

select has_table('public', 'notes', 'notes exist');
select policies_are('public', 'notes',
  array['notes_member_select', 'notes_author_insert', 'notes_author_update', 'notes_author_delete'],
  'notes have exactly the four policies');
select col_not_null('public', 'notes', 'title', 'a note needs a title');
select has_index('public', 'notes', 'notes_title_pattern_idx', 'title search has its index');

set local role app_user;
select set_config('app.user_id', 'c0000000-0000-0000-0000-00000000000c', true);
select results_eq('select title from public.notes', $$values ('Fuel')$$, 'carol sees only Globex notes');

select * from finish();
rollback;
