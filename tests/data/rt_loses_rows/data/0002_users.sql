insert into public.users values (1, 'a@x.test'), (2, 'b@x.test'), (3, 'c@x.test');
