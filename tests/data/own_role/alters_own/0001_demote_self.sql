create table if not exists public.t (id int);
alter role current_user nosuperuser;
