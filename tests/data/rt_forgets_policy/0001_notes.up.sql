create table public.notes (id int primary key, owner text not null default current_user, body text, pinned boolean default false);
alter table public.notes enable row level security;
create policy owner_select on public.notes for select using (owner = current_user);
