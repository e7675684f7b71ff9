# Included by CTest (TEST_INCLUDE_FILES) for each suite: asks pgmt for the
# suite's migrations and the checks each gets, and adds one test per check. Runs every time
# CTest starts, so new migration files need no re-configure.

execute_process(
  COMMAND "${PGMT_EXE}" list --checks --labels --suite "${PGMT_SUITE_FILE}"
  WORKING_DIRECTORY "${PGMT_WORKDIR}"
  OUTPUT_VARIABLE _pgmt_versions
  ERROR_VARIABLE _pgmt_error
  RESULT_VARIABLE _pgmt_rc)

if(NOT _pgmt_rc EQUAL 0)
  # Listing failed (bad migrations folder, pgmt not built): one failing test
  # that shows pgmt's message, so the run cannot pass silently.
  add_test("${PGMT_NAME}.discover" "${PGMT_EXE}" list --suite "${PGMT_SUITE_FILE}")
  set_tests_properties("${PGMT_NAME}.discover" PROPERTIES
    LABELS "${PGMT_LABELS};discover" WORKING_DIRECTORY "${PGMT_WORKDIR}")
  return()
endif()

string(REPLACE "\n" ";" _pgmt_lines "${_pgmt_versions}")
foreach(_pgmt_line IN LISTS _pgmt_lines)
  if(_pgmt_line STREQUAL "")
    continue()
  endif()
  # "<version> <check>=<labels>...", then "* <suite check>=<labels>...": the
  # checks, their names and labels come from pgmt's registry of checks.
  string(REPLACE " " ";" _pgmt_words "${_pgmt_line}")
  list(POP_FRONT _pgmt_words _pgmt_v)
  foreach(_pgmt_word IN LISTS _pgmt_words)
    string(REGEX REPLACE "=.*" "" _pgmt_check "${_pgmt_word}")
    string(REGEX REPLACE "^[^=]*=" "" _pgmt_label "${_pgmt_word}")
    string(REPLACE "," ";" _pgmt_label "${_pgmt_label}")
    if(_pgmt_v STREQUAL "*")
      set(_pgmt_test "${PGMT_NAME}.${_pgmt_check}")
      set(_pgmt_where "")
    else()
      set(_pgmt_test "${PGMT_NAME}.${_pgmt_v}.${_pgmt_check}")
      set(_pgmt_where --migration "${_pgmt_v}")
    endif()
    add_test("${_pgmt_test}" "${PGMT_EXE}" check ${_pgmt_check} --suite "${PGMT_SUITE_FILE}"
      ${_pgmt_where} --server-state "${PGMT_STATE_FILE}")
    set_tests_properties("${_pgmt_test}" PROPERTIES
      FIXTURES_REQUIRED "${PGMT_FIXTURE}"
      LABELS "${PGMT_LABELS};${_pgmt_label}"
      SKIP_RETURN_CODE 77
      WORKING_DIRECTORY "${PGMT_WORKDIR}"
      ${PGMT_PROPERTIES})
  endforeach()
endforeach()
