-- Same columns, but legacy comes back last.
alter table public.t add column legacy text;
