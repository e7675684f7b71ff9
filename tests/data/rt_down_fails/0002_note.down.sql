-- Typo in the column name.
alter table public.t
  drop column notes;
