#pragma once
/// report: how results reach people (the console) and machines (exit codes).

#include "pgmt/checks.hpp"

#include <ostream>
#include <string>

namespace pgmt {

/// Exit codes of the pgmt command.
namespace exit_code {
inline constexpr int passed = 0;
inline constexpr int failed = 1;    ///< a check found a problem
inline constexpr int harness = 2;   ///< pgmt could not run (bad input, no server)
inline constexpr int skipped = 77;  ///< CTest's SKIP_RETURN_CODE
}  // namespace exit_code

/// Prints a check's findings and its closing line ("PASS ...", "FAIL ...", "SKIP ...").
void print_result(std::ostream& out, const std::string& test_name, const check_result& r);

/// The exit code for r.
int exit_code_of(const check_result& r) noexcept;

}  // namespace pgmt
