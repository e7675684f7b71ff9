# pgmt: PostgreSQL migration tests for CTest.

#[=======================================================================[.rst:
Pgmt
----

Registers a folder of SQL migrations as CTest cases that run against a
disposable PostgreSQL server.

.. command:: pgmt_add_migration_tests

  ::

    pgmt_add_migration_tests(<suite>
      MIGRATIONS_DIR <dir>
      [LAYOUT auto|flat|paired|split|folders|sections|flyway|sqitch]
      [PROFILE supabase]
      [SERVER auto|temp|container|external]
      [POSTGRES_IMAGE <image>]
      [FIXTURES <file-or-dir>...]
      [SEEDS <file-or-dir>...]
      [IDEMPOTENCY AUTO|ON|OFF]
      [IRREVERSIBLE <version>...]
      [NOT_IDEMPOTENT <version>...]
      [COLUMN_ORDER STRICT|IGNORE]
      [SNAPSHOT <file>]
      [DATA_DIR <dir>]
      [RLS_DIR <dir>]
      [PGTAP_DIR <dir>]
      [PGTAP_HELPERS supabase]
      [PGTAP_ORDER ISOLATED|SEQUENTIAL]
      [SERVER_SETTINGS <name>=<value>...]
      [LOCK_FILE <file>|OFF]
      [LINT ON|OFF]
      [LINT_IGNORE <rule>...]
      [LINT_ERRORS <rule>...|all]
      [LINT_MANIFEST <file.json>]
      [STATEMENT_TIMEOUT <duration>]
      [LOCK_TIMEOUT <duration>]
      [LABELS <label>...]
      [TEST_PREFIX <prefix>]
      [WORKING_DIRECTORY <dir>]
      [PROPERTIES <name> <value>...])

  Adds, for every migration in ``MIGRATIONS_DIR``, a test
  ``<prefix><suite>.<version>.apply`` that applies the migration on the
  state after the migrations before it;
  ``<prefix><suite>.<version>.idempotency`` that runs it a second time and
  requires the same schema and row counts; ``<prefix><suite>.<version>.roundtrip``
  (sets with down scripts) that runs up, down and up again and requires down to
  restore the schema and the rows exactly; a test ``<prefix><suite>.reset``
  that builds a database from nothing (fixtures, every migration, seeds);
  ``<prefix><suite>.drift`` when ``SNAPSHOT`` is given; and the fixture tests
  ``<prefix><suite>.server.start`` and ``<prefix><suite>.server.stop`` that
  start and stop the server the suite shares and the run's engine, which
  walks the migrations once, in order, and gives every test its verdict (each
  test asks it and prints the answer). Each ``ctest`` run gets its own server
  and engine; they stop when ctest is gone. Every test carries the label
  ``migrations`` and one label per check (``apply``, ``reset``). Migrations are
  listed when CTest runs, so a migration file added after configuring shows up
  without re-running CMake.

  ``<suite>``
    Name of the suite, the first part of every test name: letters, digits,
    ``_``, ``-`` and ``.``.

  ``MIGRATIONS_DIR``
    The folder holding the migrations, relative to the current source folder.
    Required.

  ``LAYOUT``
    How the folder is laid out. ``auto`` (the default) detects it: ``flat``
    (``<version>_<name>.sql``), ``paired`` (``.up.sql`` and ``.down.sql``),
    ``split`` (``up/`` and ``down/`` folders), ``folders``
    (``<version>_<name>/up.sql``), ``sections`` (dbmate's ``-- migrate:up``).

  ``FIXTURES``
    SQL files, or folders of them, loaded in order before the first migration.

  ``SERVER``
    The server the suite's tests start by default: ``auto`` (the default: a
    temp cluster from the installed PostgreSQL binaries, else a container
    where docker or podman answers), ``temp``, ``container`` (a disposable
    container of ``POSTGRES_IMAGE``), or ``external`` (the existing server of
    ``PGMT_DATABASE_URL``). The ``PGMT_SERVER`` environment variable, when
    set at test time, wins.

  ``POSTGRES_IMAGE``
    The image containers start from (default ``postgres:<major>``, the major
    version of the installed binaries, else 17); ``PGMT_IMAGE`` wins.

  ``PROFILE``
    Fixtures pgmt carries for a kind of project, loaded before ``FIXTURES``.
    ``supabase`` gives a plain PostgreSQL server what Supabase migrations take
    for granted: the roles ``anon``, ``authenticated``, ``service_role``,
    ``authenticator`` and ``supabase_admin``; the schemas ``auth``,
    ``storage`` and ``extensions`` (with ``uuid-ossp`` and ``pgcrypto``, on
    the ``search_path``); ``auth.users``, ``auth.uid()``, ``auth.role()``,
    ``auth.email()``, ``auth.jwt()``; ``storage.buckets``,
    ``storage.objects`` and the ``storage.foldername``/``filename``/
    ``extension`` helpers; Supabase's default privileges on ``public``; the
    ``supabase_realtime`` publication.

  ``SEEDS``
    SQL files, or folders of them, loaded after the last migration by the
    ``reset`` test.

  ``IDEMPOTENCY``
    ``AUTO`` (the default) checks idempotency for forward-only sets (no down
    scripts) and not for up/down sets, nor under ``PROFILE supabase`` (the
    Supabase CLI never runs a migration twice); ``ON`` and ``OFF`` force it. A
    migration whose leading comment says ``-- pgmt:not-idempotent <reason>``
    gets no idempotency test.

  ``IRREVERSIBLE``
    Versions of migrations that have no down script on purpose: no round trip
    test, as ``-- pgmt:irreversible`` in the file says, without changing the
    file (and its checksum).

  ``NOT_IDEMPOTENT``
    Versions of migrations left out of the idempotency check, as
    ``-- pgmt:not-idempotent <reason>`` in the file says.

  ``COLUMN_ORDER``
    ``STRICT`` (the default): a column order that a round trip, a second run
    or drift changes is a finding. ``IGNORE``: it is not (many upstream sets
    accept that a down and up moves a re-added column to the end).

  ``SNAPSHOT``
    The committed snapshot file (JSON, from ``pgmt snapshot``): the
    ``drift`` test requires the schema after every migration to equal it.
    ``pgmt snapshot --update --suite <build>/pgmt_suites/<suite>/suite.json``
    rewrites it.

  ``RLS_DIR``
    A folder of row level security assertion files: ``<version>.json`` (or
    ``<version>_<name>.json``) for a migration, run on the state after it
    as ``<prefix><suite>.<version>.rls``; ``final.json``, run on the reset
    state (every migration and the seeds) as ``<prefix><suite>.rls``; and
    ``users.json``, users every file may run as. A file that matches no
    migration fails the ``discover`` test.

  ``PGTAP_DIR``
    A folder of pgTAP files (``*.sql``). Each is a test
    ``<prefix><suite>.pgtap.<file>`` (label ``pgtap``) run on the reset state,
    built with the ``pgtap`` extension created after the fixtures and before
    the first migration. Its TAP is read back: a failing test is reported
    with its number, description and diagnostics, a plan that does not match
    fails the test. The server needs pgTAP (Debian:
    ``postgresql-<major>-pgtap``).

  ``PGTAP_HELPERS``
    ``supabase`` (with ``PROFILE supabase``) offers the Supabase test helpers
    (``tests.create_supabase_user``, ``tests.authenticate_as``,
    ``tests.clear_authentication``, ``tests.get_supabase_uid``,
    ``tests.rls_enabled``, ...), so files that start with
    ``create extension "basejump-supabase_test_helpers"`` run unchanged.

  ``PGTAP_ORDER``
    ``ISOLATED`` (the default): each pgTAP file runs on its own copy of the
    reset state, one test per file. ``SEQUENTIAL``: every file runs in name
    order on one database, as ``supabase test db`` does, so a helper one file
    creates is there for the next; still one test per file.

  ``SERVER_SETTINGS``
    ``<name>=<value>`` settings the servers pgmt starts (temp cluster,
    container) get at start, e.g. ``shared_preload_libraries=pg_cron`` and
    ``cron.database_name=postgres``. Ignored on an external server, which
    keeps its own configuration.

  ``LOCK_FILE``
    The lock file of released migrations (``pgmt lock --update`` writes it).
    Default: ``pgmt.lock`` in ``MIGRATIONS_DIR`` when it exists. With one,
    the suite has a test ``<prefix><suite>.lock`` (label ``lock``) that fails
    when a locked migration's up script changed (CRLF and a BOM are not
    changes), was removed or renamed, or when a new migration sorts before
    the newest locked one. ``PGMT_LOCK_ALLOW=<version>,...`` (or ``all``) lets
    a run pass in an emergency, and the test's output still shows what it
    allowed. ``OFF``: no lock test.

  ``LINT``
    ``ON`` (default): a test ``<prefix><suite>.<version>.lint`` (label
    ``lint``) per migration that finds the hazards of its SQL in PostgreSQL's
    parse tree (``pgmt lint --rules`` lists the rules). Warnings are printed
    and pass; findings of error rules fail. ``OFF``: no lint tests.

  ``LINT_IGNORE``
    Rule IDs left out for the whole suite. One statement's finding is left
    out with ``-- pgmt:lint-ignore <rule> <reason>`` on the line before it.

  ``LINT_ERRORS``
    The rule IDs whose findings fail the lint test (``all``: every rule); the
    others warn. Default: each rule's own severity.

  ``LINT_MANIFEST``
    A JSON file of the tables and enums the project allows (``tables``,
    ``enums``, ``deprecated``, optional ``columns`` mapping a table to its
    columns): creating or altering one it does not list, or one it marks
    deprecated, is an error finding at its line.

  ``DATA_DIR``
    A folder of data files, ``<version>.sql`` or ``<version>_<name>.sql``,
    loaded before the round trip of that migration so the round trip proves
    that down keeps the rows of the tables that existed before.

  ``STATEMENT_TIMEOUT``, ``LOCK_TIMEOUT``
    PostgreSQL's ``statement_timeout`` and ``lock_timeout`` while a migration
    runs, such as ``500ms``, ``30s``, ``2min``. Defaults ``1min`` and ``10s``.

  ``LABELS``
    Labels added to every test of the suite, besides ``migrations``.

  ``TEST_PREFIX``
    Prepended to every test name. Default empty.

  ``WORKING_DIRECTORY``
    Where the tests run, and so what file names in messages are relative to.
    Defaults to the current source folder.

  ``PROPERTIES``
    Test properties set on every test of the suite, as name/value pairs
    (``TIMEOUT 120``).

  Unknown keywords, and keywords given without a value, are configure errors.
#]=======================================================================]

include_guard(GLOBAL)


# Quotes a value as a bracket argument for generated CMake code.
function(_pgmt_bracket out value)
  set(eq "=")
  while(value MATCHES "\\]${eq}\\]")
    string(APPEND eq "=")
  endwhile()
  set(${out} "[${eq}[${value}]${eq}]" PARENT_SCOPE)
endfunction()

function(pgmt_add_migration_tests suite)
  set(options "")
  set(one_value MIGRATIONS_DIR LAYOUT PROFILE SERVER POSTGRES_IMAGE STATEMENT_TIMEOUT LOCK_TIMEOUT TEST_PREFIX WORKING_DIRECTORY
    IDEMPOTENCY SNAPSHOT DATA_DIR RLS_DIR PGTAP_DIR PGTAP_HELPERS LOCK_FILE LINT LINT_MANIFEST COLUMN_ORDER PGTAP_ORDER)
  set(multi_value FIXTURES SEEDS LABELS PROPERTIES LINT_IGNORE LINT_ERRORS IRREVERSIBLE NOT_IDEMPOTENT SERVER_SETTINGS)
  cmake_parse_arguments(PARSE_ARGV 1 arg "${options}" "${one_value}" "${multi_value}")

  set(where "pgmt_add_migration_tests(${suite})")
  if(arg_UNPARSED_ARGUMENTS)
    list(JOIN arg_UNPARSED_ARGUMENTS " " unknown)
    message(FATAL_ERROR "${where}: unknown arguments: ${unknown}\n"
      "Known keywords: MIGRATIONS_DIR LAYOUT PROFILE SERVER POSTGRES_IMAGE FIXTURES SEEDS IDEMPOTENCY IRREVERSIBLE NOT_IDEMPOTENT COLUMN_ORDER SNAPSHOT DATA_DIR RLS_DIR PGTAP_DIR PGTAP_HELPERS PGTAP_ORDER SERVER_SETTINGS LOCK_FILE LINT LINT_IGNORE LINT_ERRORS LINT_MANIFEST STATEMENT_TIMEOUT LOCK_TIMEOUT LABELS TEST_PREFIX WORKING_DIRECTORY PROPERTIES")
  endif()
  if(arg_KEYWORDS_MISSING_VALUES)
    list(JOIN arg_KEYWORDS_MISSING_VALUES ", " empty)
    message(FATAL_ERROR "${where}: keyword(s) given without a value: ${empty}")
  endif()
  if(NOT suite MATCHES "^[A-Za-z0-9_.-]+$")
    message(FATAL_ERROR "pgmt_add_migration_tests: suite name \"${suite}\" must be letters, digits, '_', '-' or '.'")
  endif()
  get_property(known GLOBAL PROPERTY _PGMT_SUITES)
  if("${arg_TEST_PREFIX}${suite}" IN_LIST known)
    message(FATAL_ERROR "${where}: a suite named \"${arg_TEST_PREFIX}${suite}\" is already registered")
  endif()
  set_property(GLOBAL APPEND PROPERTY _PGMT_SUITES "${arg_TEST_PREFIX}${suite}")

  if(NOT DEFINED arg_MIGRATIONS_DIR)
    message(FATAL_ERROR "${where}: MIGRATIONS_DIR is required")
  endif()
  cmake_path(ABSOLUTE_PATH arg_MIGRATIONS_DIR BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE
    OUTPUT_VARIABLE migrations_dir)
  if(NOT IS_DIRECTORY "${migrations_dir}")
    message(FATAL_ERROR "${where}: MIGRATIONS_DIR \"${migrations_dir}\" is not a folder")
  endif()

  if(NOT DEFINED arg_LAYOUT)
    set(arg_LAYOUT auto)
  endif()
  set(layouts auto flat paired split folders sections flyway sqitch)
  if(NOT arg_LAYOUT IN_LIST layouts)
    message(FATAL_ERROR "${where}: LAYOUT \"${arg_LAYOUT}\" is not one of: ${layouts}")
  endif()

  set(server_kind "")
  if(DEFINED arg_SERVER)
    set(kinds auto temp container external)
    if(NOT arg_SERVER IN_LIST kinds)
      message(FATAL_ERROR "${where}: SERVER \"${arg_SERVER}\" is not one of: ${kinds}")
    endif()
    set(server_kind "${arg_SERVER}")
  endif()

  set(profile "")
  if(DEFINED arg_PROFILE)
    set(profiles supabase)
    if(NOT arg_PROFILE IN_LIST profiles)
      message(FATAL_ERROR "${where}: PROFILE \"${arg_PROFILE}\" is not one of: ${profiles}")
    endif()
    set(profile "${arg_PROFILE}")
  endif()

  if(NOT DEFINED arg_IDEMPOTENCY)
    set(arg_IDEMPOTENCY AUTO)
  endif()
  string(TOUPPER "${arg_IDEMPOTENCY}" arg_IDEMPOTENCY)
  if(NOT arg_IDEMPOTENCY MATCHES "^(AUTO|ON|OFF)$")
    message(FATAL_ERROR "${where}: IDEMPOTENCY \"${arg_IDEMPOTENCY}\" is not one of: AUTO ON OFF")
  endif()
  string(TOLOWER "${arg_IDEMPOTENCY}" idempotency)
  set(column_order strict)
  if(DEFINED arg_COLUMN_ORDER)
    string(TOLOWER "${arg_COLUMN_ORDER}" column_order)
    if(NOT column_order MATCHES "^(strict|ignore)$")
      message(FATAL_ERROR "${where}: COLUMN_ORDER \"${arg_COLUMN_ORDER}\" is not one of: STRICT IGNORE")
    endif()
  endif()
  set(pgtap_order isolated)
  if(DEFINED arg_PGTAP_ORDER)
    string(TOLOWER "${arg_PGTAP_ORDER}" pgtap_order)
    if(NOT pgtap_order MATCHES "^(isolated|sequential)$")
      message(FATAL_ERROR "${where}: PGTAP_ORDER \"${arg_PGTAP_ORDER}\" is not one of: ISOLATED SEQUENTIAL")
    endif()
  endif()
  foreach(setting IN LISTS arg_SERVER_SETTINGS)
    if(NOT setting MATCHES "^[A-Za-z0-9_.]+=")
      message(FATAL_ERROR "${where}: SERVER_SETTINGS \"${setting}\" is not <name>=<value> (for example shared_preload_libraries=pg_cron)")
    endif()
  endforeach()
  # LOCK_FILE: a path, or OFF; by default the migrations folder's pgmt.lock
  # when it exists (pgmt looks each time CTest starts).
  set(lock_file "")
  if(DEFINED arg_LOCK_FILE)
    if(arg_LOCK_FILE STREQUAL "OFF")
      set(lock_file "OFF")
    else()
      cmake_path(ABSOLUTE_PATH arg_LOCK_FILE BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE
        OUTPUT_VARIABLE lock_file)
    endif()
  endif()
  set(lint on)
  if(DEFINED arg_LINT)
    if(arg_LINT)
      set(lint on)
    else()
      set(lint off)
    endif()
  endif()
  set(lint_manifest "")
  if(DEFINED arg_LINT_MANIFEST)
    cmake_path(ABSOLUTE_PATH arg_LINT_MANIFEST BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE
      OUTPUT_VARIABLE lint_manifest)
    if(NOT EXISTS "${lint_manifest}")
      message(FATAL_ERROR "${where}: LINT_MANIFEST \"${lint_manifest}\" does not exist")
    endif()
  endif()
  foreach(kw LINT_IGNORE LINT_ERRORS)
    foreach(rule IN LISTS arg_${kw})
      if(NOT rule MATCHES "^[a-z0-9-]+$")
        message(FATAL_ERROR "${where}: ${kw} \"${rule}\" is not a rule ID (pgmt lint --rules lists them)")
      endif()
    endforeach()
  endforeach()
  set(snapshot "")
  if(DEFINED arg_SNAPSHOT)
    cmake_path(ABSOLUTE_PATH arg_SNAPSHOT BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE
      OUTPUT_VARIABLE snapshot)
  endif()
  set(data_dir "")
  if(DEFINED arg_DATA_DIR)
    cmake_path(ABSOLUTE_PATH arg_DATA_DIR BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE
      OUTPUT_VARIABLE data_dir)
    if(NOT IS_DIRECTORY "${data_dir}")
      message(FATAL_ERROR "${where}: DATA_DIR \"${data_dir}\" is not a folder")
    endif()
  endif()

  set(rls_dir "")
  if(DEFINED arg_RLS_DIR)
    cmake_path(ABSOLUTE_PATH arg_RLS_DIR BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE
      OUTPUT_VARIABLE rls_dir)
    if(NOT IS_DIRECTORY "${rls_dir}")
      message(FATAL_ERROR "${where}: RLS_DIR \"${rls_dir}\" is not a folder")
    endif()
  endif()

  set(pgtap_dir "")
  if(DEFINED arg_PGTAP_DIR)
    cmake_path(ABSOLUTE_PATH arg_PGTAP_DIR BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE
      OUTPUT_VARIABLE pgtap_dir)
    if(NOT IS_DIRECTORY "${pgtap_dir}")
      message(FATAL_ERROR "${where}: PGTAP_DIR \"${pgtap_dir}\" is not a folder")
    endif()
  endif()
  set(pgtap_helpers "")
  if(DEFINED arg_PGTAP_HELPERS)
    if(NOT arg_PGTAP_HELPERS STREQUAL "supabase")
      message(FATAL_ERROR "${where}: PGTAP_HELPERS \"${arg_PGTAP_HELPERS}\" is not one of: supabase")
    endif()
    if(NOT profile STREQUAL "supabase")
      message(FATAL_ERROR "${where}: PGTAP_HELPERS supabase needs PROFILE supabase (auth.users and the anon and authenticated roles)")
    endif()
    set(pgtap_helpers supabase)
  endif()

  foreach(kw STATEMENT_TIMEOUT LOCK_TIMEOUT)
    if(DEFINED arg_${kw} AND NOT arg_${kw} MATCHES "^[0-9]+(ms|s|min|h)?$")
      message(FATAL_ERROR "${where}: ${kw} \"${arg_${kw}}\" is not a duration; write a number with ms, s, min or h (30s)")
    endif()
  endforeach()
  if(NOT DEFINED arg_STATEMENT_TIMEOUT)
    set(arg_STATEMENT_TIMEOUT 1min)
  endif()
  if(NOT DEFINED arg_LOCK_TIMEOUT)
    set(arg_LOCK_TIMEOUT 10s)
  endif()

  foreach(kind FIXTURES SEEDS)
    set(abs_${kind} "")
    foreach(p IN LISTS arg_${kind})
      cmake_path(ABSOLUTE_PATH p BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE OUTPUT_VARIABLE ap)
      if(NOT EXISTS "${ap}")
        message(FATAL_ERROR "${where}: ${kind} path \"${ap}\" does not exist")
      endif()
      list(APPEND abs_${kind} "${ap}")
    endforeach()
  endforeach()

  list(LENGTH arg_PROPERTIES nprops)
  math(EXPR odd "${nprops} % 2")
  if(odd)
    message(FATAL_ERROR "${where}: PROPERTIES takes name/value pairs; got an odd number of values")
  endif()

  if(NOT DEFINED arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}")
  endif()

  if(DEFINED PGMT_EXECUTABLE)
    set(pgmt_exe "${PGMT_EXECUTABLE}")
  elseif(TARGET pgmt::pgmt)
    set(pgmt_exe "$<TARGET_FILE:pgmt::pgmt>")
  else()
    message(FATAL_ERROR "${where}: no pgmt executable: use find_package(pgmt) or add_subdirectory(pgmt) first, or set PGMT_EXECUTABLE")
  endif()

  set(name "${arg_TEST_PREFIX}${suite}")
  set(work "${CMAKE_CURRENT_BINARY_DIR}/pgmt_suites/${name}")
  set(suite_file "${work}/suite.json")
  set(state_file "${work}/server.json")
  set(fixture "pgmt.${name}.server")

  # The suite file: everything pgmt needs to know, read by every test.
  set(json "{}")
  string(JSON json SET "${json}" name "\"${name}\"")
  foreach(pair "migrations_dir;${migrations_dir}" "layout;${arg_LAYOUT}"
      "statement_timeout;${arg_STATEMENT_TIMEOUT}" "lock_timeout;${arg_LOCK_TIMEOUT}" "output_dir;${work}"
      "idempotency;${idempotency}" "snapshot;${snapshot}" "data_dir;${data_dir}" "profile;${profile}"
      "rls_dir;${rls_dir}" "pgtap_dir;${pgtap_dir}" "pgtap_helpers;${pgtap_helpers}" "lock_file;${lock_file}"
      "lint;${lint}" "lint_manifest;${lint_manifest}" "column_order;${column_order}" "pgtap_order;${pgtap_order}")
    list(GET pair 0 key)
    list(GET pair 1 value)
    string(REPLACE "\\" "\\\\" value "${value}")
    string(REPLACE "\"" "\\\"" value "${value}")
    string(JSON json SET "${json}" "${key}" "\"${value}\"")
  endforeach()
  foreach(kind LINT_IGNORE LINT_ERRORS IRREVERSIBLE NOT_IDEMPOTENT SERVER_SETTINGS)
    if(kind STREQUAL "LINT_ERRORS" AND NOT DEFINED arg_LINT_ERRORS)
      continue()
    endif()
    string(TOLOWER "${kind}" key)
    string(JSON json SET "${json}" "${key}" "[]")
    set(i 0)
    foreach(rule IN LISTS arg_${kind})
      string(REPLACE "\\" "\\\\" rule "${rule}")
      string(REPLACE "\"" "\\\"" rule "${rule}")
      string(JSON json SET "${json}" "${key}" ${i} "\"${rule}\"")
      math(EXPR i "${i} + 1")
    endforeach()
  endforeach()
  foreach(kind FIXTURES SEEDS)
    string(TOLOWER "${kind}" key)
    string(JSON json SET "${json}" "${key}" "[]")
    set(i 0)
    foreach(p IN LISTS abs_${kind})
      string(REPLACE "\\" "\\\\" p "${p}")
      string(REPLACE "\"" "\\\"" p "${p}")
      string(JSON json SET "${json}" "${key}" ${i} "\"${p}\"")
      math(EXPR i "${i} + 1")
    endforeach()
  endforeach()
  file(MAKE_DIRECTORY "${work}")
  file(CONFIGURE OUTPUT "${suite_file}" CONTENT "${json}\n")

  set(labels migrations ${arg_LABELS})

  # Fixture tests: one server for the whole suite.
  set(server_args "")
  if(server_kind)
    list(APPEND server_args --server "${server_kind}")
  endif()
  if(DEFINED arg_POSTGRES_IMAGE)
    list(APPEND server_args --image "${arg_POSTGRES_IMAGE}")
  endif()
  # The server's fixture starts the run's engine: it walks the migrations once
  # and answers every test of the suite (see docs/design.md).
  add_test(NAME "${name}.server.start"
    COMMAND "${pgmt_exe}" server start --state "${state_file}" --suite "${suite_file}" ${server_args}
    WORKING_DIRECTORY "${arg_WORKING_DIRECTORY}")
  add_test(NAME "${name}.server.stop" COMMAND "${pgmt_exe}" server stop --state "${state_file}")
  set_tests_properties("${name}.server.start" PROPERTIES FIXTURES_SETUP "${fixture}" LABELS "${labels};server"
    ${arg_PROPERTIES})
  set_tests_properties("${name}.server.stop" PROPERTIES FIXTURES_CLEANUP "${fixture}" LABELS "${labels};server"
    ${arg_PROPERTIES})

  # The tests of each migration and of the suite (reset, drift, ...), listed
  # when CTest runs (see PgmtDiscover.cmake).
  set(props "")
  foreach(p IN LISTS arg_PROPERTIES)
    _pgmt_bracket(q "${p}")
    string(APPEND props " ${q}")
  endforeach()
  foreach(v pgmt_exe suite_file state_file fixture name)
    _pgmt_bracket(q_${v} "${${v}}")
  endforeach()
  _pgmt_bracket(q_labels "${labels}")
  _pgmt_bracket(q_workdir "${arg_WORKING_DIRECTORY}")
  set(include_file "${work}/tests.cmake")
  file(GENERATE OUTPUT "${include_file}" CONTENT
"# Generated by pgmt_add_migration_tests(${suite}); lists the migrations when CTest runs.
set(PGMT_EXE ${q_pgmt_exe})
set(PGMT_SUITE_FILE ${q_suite_file})
set(PGMT_STATE_FILE ${q_state_file})
set(PGMT_FIXTURE ${q_fixture})
set(PGMT_NAME ${q_name})
set(PGMT_LABELS ${q_labels})
set(PGMT_WORKDIR ${q_workdir})
set(PGMT_PROPERTIES ${props})
include(\"${CMAKE_CURRENT_FUNCTION_LIST_DIR}/PgmtDiscover.cmake\")
")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
