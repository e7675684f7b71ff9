# Configures, builds and tests a consumer project the way its users would.
#   -DSOURCE=<consumer> -DWORK=<scratch folder> -DEXAMPLE=<pgmt source> [-DPREFIX=<install>]
#   [-DSCENARIO=basic|evolve] [-DSUPABASE=1]
# basic: the example suite passes under ctest -L migrations -j2 and leaves no server behind.
# evolve: also, a migration added without re-running cmake appears and runs
# alone under -R; a broken one fails with its file:line; --output-junit works.
cmake_minimum_required(VERSION 3.25)
if(NOT DEFINED SCENARIO)
  set(SCENARIO basic)
endif()

function(run)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "EXPECT" "COMMAND")
  execute_process(COMMAND ${arg_COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(out "${out}${err}" PARENT_SCOPE)
  if(arg_EXPECT STREQUAL "fail")
    if(rc EQUAL 0)
      message(FATAL_ERROR "expected failure: ${arg_COMMAND}\n${out}${err}")
    endif()
  elseif(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${arg_COMMAND}\n${out}${err}")
  endif()
endfunction()

# Every server a ctest run started must be gone when it ends.
function(expect_servers_gone output)
  string(REGEX MATCHALL "pgmt: started PostgreSQL [^\n]* at ([^\n]*)/sock" starts "${output}")
  if(NOT starts)
    message(FATAL_ERROR "no server start seen in:\n${output}")
  endif()
  foreach(line IN LISTS starts)
    string(REGEX REPLACE ".* at (.*)/sock" "\\1" folder "${line}")
    if(EXISTS "${folder}")
      message(FATAL_ERROR "server folder \"${folder}\" is still there after the run")
    endif()
  endforeach()
endfunction()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(COPY "${EXAMPLE}/migrations" DESTINATION "${WORK}")
set(migrations "${WORK}/migrations")
set(build "${WORK}/build")

# A Debug build: what a consumer's own build type gives pgmt's sources, and
# several times faster to compile than the default RelWithDebInfo; without
# debug information, which the test never reads and which costs the most.
set(configure_args -S "${SOURCE}" -B "${build}" "-DMIGRATIONS=${migrations}" "-DSEEDS=${EXAMPLE}/seed/seed.sql"
  "-DPGMT_SOURCE=${EXAMPLE}" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0)
if(DEFINED PREFIX)
  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${PREFIX}")
endif()
run(COMMAND "${CMAKE_COMMAND}" ${configure_args})
run(COMMAND "${CMAKE_COMMAND}" --build "${build}" -j2)

run(COMMAND "${CMAKE_CTEST_COMMAND}" --test-dir "${build}" -L migrations -j2 -V)
foreach(t shop.server.start shop.20260105090000.apply shop.20260202130000.apply shop.reset shop.server.stop)
  if(NOT out MATCHES "Test +#[0-9]+: ${t} [.]+ +Passed")
    message(FATAL_ERROR "${t} did not pass:\n${out}")
  endif()
endforeach()
expect_servers_gone("${out}")
message(STATUS "example suite passed and its server is gone")
if(DEFINED SUPABASE)
  foreach(t supa.0001.apply supa.0001.rls supa.rls supa.rls_coverage supa.pgtap.01-notes supa.pgtap.02-helpers)
    if(NOT out MATCHES "Test +#[0-9]+: ${t} [.]+ +Passed")
      message(FATAL_ERROR "${t} did not pass:\n${out}")
    endif()
  endforeach()
  if(out MATCHES "supa[.]0001[.]idempotency")
    message(FATAL_ERROR "the supabase profile should leave idempotency out:\n${out}")
  endif()
  message(STATUS "the Supabase suite passed: profile, RLS files, coverage, pgTAP with the helpers")
endif()

if(SCENARIO STREQUAL "evolve")
  # A migration added after configure shows up without re-running cmake.
  file(WRITE "${migrations}/20260301000000_note_pins.up.sql"
    "alter table public.notes add column pinned boolean not null default false;\n")
  file(WRITE "${migrations}/20260301000000_note_pins.down.sql"
    "alter table public.notes drop column pinned;\n")
  run(COMMAND "${CMAKE_CTEST_COMMAND}" --test-dir "${build}" -N)
  if(NOT out MATCHES "shop.20260301000000.apply")
    message(FATAL_ERROR "the new migration is not listed:\n${out}")
  endif()
  # Run alone, it brings its own server and takes it down again.
  run(COMMAND "${CMAKE_CTEST_COMMAND}" --test-dir "${build}" -R "shop[.]20260301000000[.]apply" -V)
  if(NOT out MATCHES "100% tests passed, 0 tests failed out of 3")
    message(FATAL_ERROR "-R did not run the test with its server fixture:\n${out}")
  endif()
  expect_servers_gone("${out}")

  # A broken migration fails with its file and line, and the rest still reports.
  file(WRITE "${migrations}/20260302000000_broken.up.sql"
    "-- Adds a tag column.\nalter table public.notes\n  add column tag text references public.tags (name);\n")
  file(WRITE "${migrations}/20260302000000_broken.down.sql" "alter table public.notes drop column tag;\n")
  run(EXPECT fail COMMAND "${CMAKE_CTEST_COMMAND}" --test-dir "${build}" -L migrations -j2 --output-on-failure
    --output-junit "${WORK}/junit.xml")
  if(NOT out MATCHES "20260302000000_broken[.]up[.]sql:3:34: relation \"public[.]tags\" does not exist \\(SQLSTATE 42P01\\)")
    message(FATAL_ERROR "the failure does not name file:line:column:\n${out}")
  endif()
  # One failure per cause: the round trip and reset are skipped, naming it.
  if(NOT out MATCHES "shop[.]reset [^\n]*Skipped" OR NOT out MATCHES "shop[.]20260302000000[.]roundtrip [^\n]*Skipped")
    message(FATAL_ERROR "reset and the round trip should be skipped:\n${out}")
  endif()
  if(NOT out MATCHES "1 tests failed")
    message(FATAL_ERROR "one failure for one cause:\n${out}")
  endif()
  file(READ "${WORK}/junit.xml" junit)
  if(NOT junit MATCHES "<testcase name=\"shop[.]20260302000000[.]apply\"[^>]*status=\"fail\"")
    message(FATAL_ERROR "junit report lacks the failing test:\n${junit}")
  endif()
  # A folder pgmt cannot read becomes one failing test that says why.
  file(WRITE "${migrations}/20260302000000_again.up.sql" "select 1;\n")
  run(EXPECT fail COMMAND "${CMAKE_CTEST_COMMAND}" --test-dir "${build}" -L migrations --output-on-failure)
  if(NOT out MATCHES "shop[.]discover [^\n]*Failed" OR NOT out MATCHES "duplicate migration version \"20260302000000\"")
    message(FATAL_ERROR "a duplicate version should fail shop.discover with pgmt's message:\n${out}")
  endif()
  message(STATUS "new file listed, -R alone works, broken migration named at its line, junit written, bad folder reported")
endif()
file(REMOVE_RECURSE "${WORK}")
