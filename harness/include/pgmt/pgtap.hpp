#pragma once
/// pgtap: a project's pgTAP files, each run on the reset state, with the TAP
/// they print read back and judged (plan, failures, diagnostics).

#include "pgmt/script.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pgmt {

class connection;

/// One test point of a TAP stream.
struct tap_point {
  int number = 0;
  bool ok = false;
  std::string description;
  std::string directive;                 ///< "TODO ..." or "SKIP ...", empty for none
  std::vector<std::string> diagnostics;  ///< the "# ..." lines after it
};

/// A TAP stream, read.
struct tap_report {
  std::optional<int> planned;  ///< from "1..N"
  std::vector<tap_point> points;
  std::vector<std::string> notes;  ///< "# ..." lines not after a failure (finish()'s summary, diag())
};

/// Reads TAP text (lines from pgTAP's functions).
tap_report parse_tap(const std::string& text);

/// Findings of a report: each failing point with its number, description and
/// diagnostics, and a plan that does not match; none when it passed.
std::vector<std::string> judge_tap(const tap_report& r, const std::string& file);

/// The pgTAP files of a folder, in byte order (*.sql, and *.pg as pg_prove takes).
std::vector<std::filesystem::path> pgtap_files(const std::filesystem::path& dir);

/// The name a file's test gets: its file name without the extension.
std::string pgtap_test_name(const std::filesystem::path& file);

/// SQL that creates test helpers compatible with the widely used Supabase test
/// helpers (schema tests: create_supabase_user, get_supabase_user,
/// get_supabase_uid, authenticate_as, authenticate_as_service_role,
/// clear_authentication, rls_enabled, freeze_time, unfreeze_time).
const std::string& supabase_test_helpers_sql();

/// Runs a pgTAP file on conn; returns its TAP text. Statements that create the
/// Supabase test helpers extension are skipped when helpers is "supabase"
/// (pgmt installed them). Throws script_error when a statement fails.
std::string run_pgtap_file(connection& conn, const sql_source& src, const std::string& helpers,
                           const run_options& base);

}  // namespace pgmt
