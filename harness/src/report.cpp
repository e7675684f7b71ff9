#include "pgmt/report.hpp"

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
  case check_result::status::failed:
    out << "FAIL " << test_name << ": " << r.findings.size() << " finding"
        << (r.findings.size() == 1 ? "" : "s") << (r.note.empty() ? "" : " (" + r.note + ")") << '\n';
    break;
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
