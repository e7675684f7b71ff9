-- Creates a role without asking whether it exists: the apply passes, the
-- reset (a second run on the same server) cannot.
create role pgmt_reset_probe nologin;
