-- pgmt:not-idempotent a database cannot be created when missing in plain SQL
create database server_wide_other;
