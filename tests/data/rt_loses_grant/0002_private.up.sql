revoke select on public.reports from public;
