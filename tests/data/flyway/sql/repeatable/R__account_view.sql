create or replace view ${app_schema}.account_totals as
  select a.id, a.name, coalesce(sum(i.total), 0) as total
  from ${app_schema}.accounts a left join ${app_schema}.invoices i on i.account = a.id
  group by a.id, a.name;
