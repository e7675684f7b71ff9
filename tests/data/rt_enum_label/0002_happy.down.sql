-- PostgreSQL cannot drop an enum value; this down does nothing.
select 1;
