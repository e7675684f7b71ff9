#include "pgmt/report.hpp"

#include <cstdlib>

namespace pgmt {

void print_result(std::ostream& out, const std::string& test_name, const check_result& r) {
  for (const auto& d : r.details) {
    out << d;
    if (d.empty() || d.back() != '\n') out << '\n';
  }
  for (const auto& f : r.findings) {
    out << f;
    if (!f.empty() && f.back() != '\n') out << '\n';
  }
  switch (r.outcome) {
  case check_result::status::passed:
    out << "PASS " << test_name << (r.note.empty() ? "" : ": " + r.note) << '\n';
    break;
  case check_result::status::failed: {
    // Findings, not lines: "  full diff: ..." goes with the lines above it,
    // "... and 12 more" stands for 12.
    std::size_t n = 0;
    for (const auto& f : r.findings) {
      if (f.rfind("... and ", 0) == 0)
        n += std::strtoul(f.c_str() + 8, nullptr, 10);
      else if (f.empty() || f[0] != ' ')
        ++n;
    }
    if (n == 0) n = 1;
    out << "FAIL " << test_name << ": " << n << " finding" << (n == 1 ? "" : "s")
        << (r.note.empty() ? "" : " (" + r.note + ")") << '\n';
    break;
  }
  case check_result::status::skipped: out << "SKIP " << test_name << ": " << r.note << '\n'; break;
  }
}

int exit_code_of(const check_result& r) noexcept {
  switch (r.outcome) {
  case check_result::status::passed: return exit_code::passed;
  case check_result::status::failed: return exit_code::failed;
  case check_result::status::skipped: return exit_code::skipped;
  }
  return exit_code::harness;
}

}  // namespace pgmt
