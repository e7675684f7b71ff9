#!/bin/sh
# pgmt benchmark: for synthetic suites of N migrations (golang-migrate layout,
# up and down), every test of the suite (apply and roundtrip per migration,
# reset) under `ctest -j2 -L migrations`, and `pgmt test` on the same suite,
# against the psql floor measured side by side in the same run: one psql
# session running, per migration, up, down, up, down, up, each in its own
# transaction (more SQL than the checks run). Prints the ratios, the cost per
# migration, the growth exponent (time ~ N^e) and the engine's peak RSS, and
# what lock tracing costs: the migrations' apply time (the sum of the
# "applied ... in X ms" of `pgmt test`) with tracing over without
# (PGMT_TRACE=off), side by side in the same run.
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

# Migrations that look like real ones: most create a table with an identity
# key, an index, a policy, a trigger function and its trigger, and 20 rows;
# every fourth adds a column and an index to the table before it. Each down
# script is the exact inverse of its up.
write_suite() {
  dir=$1 n=$2
  mkdir -p "$dir/migrations"
  i=1
  while [ "$i" -le "$n" ]; do
    v=$(printf '%06d' "$i")
    if [ $((i % 4)) -eq 0 ]; then
      j=$((i - 1))
      cat > "$dir/migrations/${v}_alter_t$j.up.sql" <<SQL
alter table public.t$j add column c$i text not null default 'x';
create index t${j}_c${i}_idx on public.t$j (c$i);
SQL
      cat > "$dir/migrations/${v}_alter_t$j.down.sql" <<SQL
drop index public.t${j}_c${i}_idx;
alter table public.t$j drop column c$i;
SQL
    else
      cat > "$dir/migrations/${v}_t$i.up.sql" <<SQL
create table public.t$i (
  id bigint generated always as identity primary key,
  owner text not null default current_user,
  name text not null check (length(name) < 200),
  created_at timestamptz not null default now()
);
create index t${i}_name_idx on public.t$i (lower(name));
alter table public.t$i enable row level security;
create policy t${i}_owner on public.t$i using (owner = current_user);
create function public.t${i}_touch() returns trigger language plpgsql as \$\$
begin new.created_at := now(); return new; end \$\$;
create trigger t${i}_touch before update on public.t$i for each row execute function public.t${i}_touch();
insert into public.t$i (name) select 'row ' || g from generate_series(1, 20) g;
SQL
      cat > "$dir/migrations/${v}_t$i.down.sql" <<SQL
drop table public.t$i;
drop function public.t${i}_touch();
SQL
    fi
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
  # The floor: one psql session, per migration up, down, up, down, up.
  for up in "$dir"/migrations/*.up.sql; do
    down=${up%.up.sql}.down.sql
    for f in "$up" "$down" "$up" "$down" "$up"; do
      printf 'begin;\n\\i %s\ncommit;\n' "$f"
    done
  done > "$dir/floor.sql"
}

printf '%5s %9s %10s %7s %8s %11s %7s %9s %13s\n' N "psql (s)" "ctest (s)" ratio "ms/mig" "pgmt test" ratio "RSS (MB)" "trace cost"
for n in $sizes; do
  dir="$work/n$n"
  write_suite "$dir" "$n"

  state="$dir/server.json"
  sock=$("$pgmt" server start --state "$state" --owner $$ | sed 's/.* at //')
  psql -X -q -h "$sock" -U postgres -d postgres -c "create database bench" >/dev/null
  t0=$(now)
  psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -U postgres -d bench -f "$dir/floor.sql" >/dev/null
  t1=$(now)
  "$pgmt" server stop --state "$state" >/dev/null

  cmake -S "$dir" -B "$dir/build" >/dev/null
  t2=$(now)
  ctest --test-dir "$dir/build" -j2 -L migrations -V >"$dir/ctest.log" 2>&1 || {
    tail -50 "$dir/ctest.log"
    exit 1
  }
  t3=$(now)
  rss=$(sed -n 's/.*engine peak RSS \([0-9]*\) MB.*/\1/p' "$dir/ctest.log" | tail -1)
  t4=$(now)
  "$pgmt" test --migrations "$dir/migrations" >"$dir/test.log" 2>&1 || {
    tail -50 "$dir/test.log"
    exit 1
  }
  t5=$(now)
  # The apply times, traced and not: pgmt prints each ("PASS x.0001.apply:
  # applied ... in 3.2 ms"). Three runs of each, alternating; each migration's
  # smallest time of each kind counts (the machine's noise only ever adds), and
  # the sums of those are compared.
  applied() { sed -n 's/^PASS \([^ ]*\)\.apply: applied .* in \([0-9.]*\) ms$/\1 \2/p' "$1"; }
  applied "$dir/test.log" >"$dir/traced.times"
  : >"$dir/untraced.times"
  for round in 1 2 3; do
    PGMT_TRACE=off "$pgmt" test --migrations "$dir/migrations" >"$dir/untraced.log" 2>&1 || {
      tail -50 "$dir/untraced.log"
      exit 1
    }
    applied "$dir/untraced.log" >>"$dir/untraced.times"
    [ "$round" = 3 ] && break
    "$pgmt" test --migrations "$dir/migrations" >"$dir/test.log" 2>&1 || {
      tail -50 "$dir/test.log"
      exit 1
    }
    applied "$dir/test.log" >>"$dir/traced.times"
  done
  least() { awk '!($1 in m) || $2 < m[$1] { m[$1] = $2 } END { for (k in m) s += m[k]; print s + 0 }' "$1"; }
  traced=$(least "$dir/traced.times")
  untraced=$(least "$dir/untraced.times")
  awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v f="$t5" -v rss="${rss:-?}" \
    -v tr="$traced" -v un="$untraced" \
    'BEGIN { p = b - a; g = d - c; t = f - e
      printf "%5d %9.2f %10.2f %7.2f %8.1f %11.2f %7.2f %9s %12.1f%%\n", n, p, g, g / p, 1000 * g / n, t, t / p, rss,
        (un > 0 ? 100 * (tr - un) / un : 0) }' |
    tee -a "$work/rows"
done

# How the cost grows: the exponent e of t ~ N^e between the smallest and the
# largest N (1 is linear, 2 quadratic).
awk 'NR == 1 { n0 = $1; p0 = $2; g0 = $3; t0 = $6 } { n1 = $1; p1 = $2; g1 = $3; t1 = $6 }
  END { if (NR > 1) printf "growth exponent from N=%d to N=%d: psql %.2f, ctest %.2f, pgmt test %.2f (1 = linear)\n",
          n0, n1, log(p1 / p0) / log(n1 / n0), log(g1 / g0) / log(n1 / n0), log(t1 / t0) / log(n1 / n0) }' "$work/rows"
