set role server_wide_reader;
select 1;
