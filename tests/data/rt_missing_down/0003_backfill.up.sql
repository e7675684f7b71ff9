-- pgmt:irreversible
insert into public.t values (1);
