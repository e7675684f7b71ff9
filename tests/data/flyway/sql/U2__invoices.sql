drop table ${app_schema}.invoices;
