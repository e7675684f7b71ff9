-- Books reference a table that does not exist: the error is at line 6, column 24.
create table public.books (
  id int primary key,
  author_id int not null references public.authors (id),
  title text not null,
  isbn text references public.isbns (code)
);
