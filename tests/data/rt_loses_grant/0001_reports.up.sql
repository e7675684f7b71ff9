create table public.reports (id int primary key);
grant select on public.reports to public;
