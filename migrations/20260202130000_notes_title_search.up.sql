-- pgmt:no-transaction
-- Built concurrently so the notes table stays writable while it builds.
create index concurrently if not exists notes_title_pattern_idx
  on public.notes (lower(title) text_pattern_ops);
