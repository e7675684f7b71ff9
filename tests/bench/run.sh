#!/bin/sh
# pgmt benchmark: for synthetic suites of N migrations, the time of every
# pgmt check under `ctest -j2` against the time psql takes to run the same SQL
# once, and the cost per migration. Linear growth shows as a flat ms/migration.
#
#   tests/bench/run.sh <pgmt-executable> [N ...]      (default N: 50 100 200)
#
# Not part of the test suite: timings are reported, never asserted.
set -eu
pgmt=$(readlink -f "$1"); shift
sizes=${*:-50 100 200}
here=$(cd "$(dirname "$0")" && pwd)
module=$(readlink -f "$here/../../cmake/Pgmt.cmake")
work=$(mktemp -d "${TMPDIR:-/tmp}/pgmt-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }

# A migration that looks like real ones: a table with constraints, an index,
# a function, a trigger, a grant.
write_suite() {
  dir=$1 n=$2
  mkdir -p "$dir/migrations"
  i=1
  while [ "$i" -le "$n" ]; do
    v=$(printf '%06d' "$i")
    cat > "$dir/migrations/${v}_t$i.sql" <<SQL
create table public.t$i (
  id bigint generated always as identity primary key,
  name text not null check (length(name) < 200),
  ref bigint,
  created_at timestamptz not null default now()
);
create index t${i}_name_idx on public.t$i (lower(name));
create function public.t${i}_touch() returns trigger language plpgsql as \$\$
begin new.created_at := now(); return new; end \$\$;
create trigger t${i}_touch before update on public.t$i for each row execute function public.t${i}_touch();
insert into public.t$i (name) values ('a'), ('b');
SQL
    i=$((i + 1))
  done
  cat > "$dir/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(bench LANGUAGES NONE)
enable_testing()
set(PGMT_EXECUTABLE "$pgmt")
include("$module")
pgmt_add_migration_tests(bench MIGRATIONS_DIR migrations)
CMAKE
}

printf '%6s %10s %12s %8s %16s\n' N "psql (s)" "pgmt -j2 (s)" ratio "ms per migration"
for n in $sizes; do
  dir="$work/n$n"
  write_suite "$dir" "$n"

  # Baseline: psql runs each file once, in order, on a server pgmt starts.
  state="$dir/server.json"
  sock=$("$pgmt" server start --state "$state" --owner $$ | sed 's/.* at //')
  psql -X -q -h "$sock" -U postgres -d postgres -c "create database bench" >/dev/null
  t0=$(now)
  for f in "$dir"/migrations/*.sql; do
    psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -U postgres -d bench -1 -f "$f" >/dev/null
  done
  t1=$(now)
  "$pgmt" server stop --state "$state" >/dev/null

  cmake -S "$dir" -B "$dir/build" >/dev/null
  t2=$(now)
  ctest --test-dir "$dir/build" -j2 -L migrations >"$dir/ctest.log" 2>&1 || { cat "$dir/ctest.log"; exit 1; }
  t3=$(now)
  awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
    'BEGIN { p = b - a; g = d - c; printf "%6d %10.2f %12.2f %8.2f %16.1f\n", n, p, g, g / p, 1000 * g / n }'
done
