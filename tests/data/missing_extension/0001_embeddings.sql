create extension if not exists vector;
create table documents (id bigint primary key, embedding vector(3));
