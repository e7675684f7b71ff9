create table public.notes (id int primary key, owner text not null default current_user, body text, pinned boolean default false);
create index notes_owner_idx on public.notes (owner);
