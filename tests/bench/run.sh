#!/bin/sh
# pgmt benchmark: for synthetic suites of N migrations, the time of every
# pgmt test (apply, idempotency and roundtrip per migration, reset) under
# `ctest -j2` against the time psql takes to run the up scripts once, and the
# cost per migration. Linear growth shows as a flat ms/migration and a growth
# exponent of 1.
#
#   tests/bench/run.sh <pgmt-executable> [N ...]      (default N: 50 100 200)
#
# PGMT_BENCH_KEEP=1 keeps the generated suites and their ctest logs.
# Not part of the test suite: timings are reported, never asserted.
set -eu
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 <pgmt-executable> [N ...]" >&2
  exit 2
fi
pgmt=$(readlink -f "$1"); shift
sizes=${*:-50 100 200}
here=$(cd "$(dirname "$0")" && pwd)
module="$here/../../cmake/Pgmt.cmake"
if [ ! -f "$module" ]; then
  echo "$0: no cmake/Pgmt.cmake at $module; run the script from its place in the pgmt tree" >&2
  exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/pgmt-bench-XXXXXX")
if [ "${PGMT_BENCH_KEEP:-0}" = 1 ]; then
  echo "suites and logs kept in $work"
else
  trap 'rm -rf "$work"' EXIT
fi

now() { date +%s.%N; }

# A migration that looks like real ones: a table with constraints, an index,
# a function, a trigger, two rows; written to be idempotent, with a down script,
# so every per-migration check runs (apply, idempotency, roundtrip).
write_suite() {
  dir=$1 n=$2
  mkdir -p "$dir/migrations"
  i=1
  while [ "$i" -le "$n" ]; do
    v=$(printf '%06d' "$i")
    cat > "$dir/migrations/${v}_t$i.up.sql" <<SQL
create table if not exists public.t$i (
  id bigint generated always as identity primary key,
  name text not null unique check (length(name) < 200),
  ref bigint,
  created_at timestamptz not null default now()
);
create index if not exists t${i}_lower_name_idx on public.t$i (lower(name));
create or replace function public.t${i}_touch() returns trigger language plpgsql as \$\$
begin new.created_at := now(); return new; end \$\$;
create or replace trigger t${i}_touch before update on public.t$i for each row execute function public.t${i}_touch();
insert into public.t$i (name) values ('a'), ('b') on conflict (name) do nothing;
SQL
    cat > "$dir/migrations/${v}_t$i.down.sql" <<SQL
drop table public.t$i;
drop function public.t${i}_touch();
SQL
    i=$((i + 1))
  done
  cat > "$dir/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(bench LANGUAGES NONE)
enable_testing()
set(PGMT_EXECUTABLE "$pgmt")
include("$module")
pgmt_add_migration_tests(bench MIGRATIONS_DIR migrations IDEMPOTENCY ON)
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
  for f in "$dir"/migrations/*.up.sql; do
    psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -U postgres -d bench -1 -f "$f" >/dev/null
  done
  t1=$(now)
  "$pgmt" server stop --state "$state" >/dev/null

  cmake -S "$dir" -B "$dir/build" >/dev/null
  t2=$(now)
  ctest --test-dir "$dir/build" -j2 -L migrations >"$dir/ctest.log" 2>&1 || { cat "$dir/ctest.log"; exit 1; }
  t3=$(now)
  awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
    'BEGIN { p = b - a; g = d - c; printf "%6d %10.2f %12.2f %8.2f %16.1f\n", n, p, g, g / p, 1000 * g / n }' |
    tee -a "$work/rows"
done

# How the cost grows: the exponent e of t ~ N^e between the smallest and the
# largest N (1 is linear, 2 quadratic), for psql and for pgmt.
awk 'NR == 1 { n0 = $1; p0 = $2; g0 = $3 } { n1 = $1; p1 = $2; g1 = $3 }
  END { if (NR > 1) printf "growth exponent from N=%d to N=%d: psql %.2f, pgmt %.2f (1 = linear)\n",
          n0, n1, log(p1 / p0) / log(n1 / n0), log(g1 / g0) / log(n1 / n0) }' "$work/rows"
