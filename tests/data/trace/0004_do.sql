do $$ begin execute $e$alter table public.orders add column flag boolean$e$; end $$;
