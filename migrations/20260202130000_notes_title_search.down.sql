-- pgmt:no-transaction
drop index concurrently if exists public.notes_title_pattern_idx;
