-- Forgets to grant it back.
select 1;
