-- Flyway runs this after every migration; pgmt says it does not.
select 1;
