-- As Supabase's platform migrations do: postgres stops being a superuser.
alter role postgres nosuperuser;
