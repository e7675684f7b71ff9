#pragma once
/// lint: hazards of a migration's SQL, found in PostgreSQL's own parse tree
/// (libpg_query), never in the text. Each rule has an ID (squawk's where
/// squawk has the rule, with its meaning), a one-line why, the fix and a
/// severity. Objects the migration itself creates before a statement are
/// never flagged: a lock on a table nobody else can see yet blocks nobody.
/// A manifest (LINT_MANIFEST) lists the tables and enums a project allows.

#include "pgmt/checks.hpp"
#include "pgmt/migration.hpp"
#include "pgmt/script.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pgmt {

struct suite;

/// One lint rule.
struct lint_rule {
  const char* id;     ///< squawk's ID where squawk has the rule
  bool error;         ///< fails the lint test by default (LINT_ERRORS overrides)
  const char* why;    ///< what goes wrong, one line
  const char* fix;    ///< what to write instead
  const char* scope;  ///< when it applies, for the rule table ("" always)
};

/// Every rule, in the order of the rule table.
[[nodiscard]] const std::vector<lint_rule>& lint_rules();
/// The rule with this ID, or nullptr.
[[nodiscard]] const lint_rule* find_lint_rule(std::string_view id);
/// The rule table as Markdown (the README's, generated from here).
[[nodiscard]] std::string lint_rules_markdown();

/// The tables and enums a project allows (LINT_MANIFEST): JSON with
/// `tables`, `enums`, `deprecated` (arrays of names, `schema.name` or `name`
/// for public) and optional `columns` (table -> array of column names).
struct lint_manifest {
  std::filesystem::path path;
  std::set<std::string> tables, enums, deprecated;  ///< qualified: schema.name
  std::map<std::string, std::set<std::string>> columns;
};
/// Reads a manifest. Throws input_error naming the file and what is wrong.
[[nodiscard]] lint_manifest read_lint_manifest(const std::filesystem::path& file);

/// How a source is linted.
struct lint_options {
  std::set<std::string> ignore;                ///< LINT_IGNORE: rules left out
  std::optional<std::set<std::string>> errors;  ///< LINT_ERRORS: the rules that fail; nullopt: each rule's own
  std::string profile;                         ///< "supabase": the API roles' schemas need RLS
  bool robust = false;  ///< the migration is run twice (idempotency): prefer-robust-stmts applies
  const lint_manifest* manifest = nullptr;
};

/// One finding.
struct lint_finding {
  std::string rule;
  bool error = false;       ///< fails the test (by the rule's severity or LINT_ERRORS)
  diagnostic where;         ///< message "<rule>: <what>", hint the fix
  std::size_t statement = 0;  ///< byte offset of its statement's first token
};

/// The findings of one source, in file order. Throws script_error where the
/// source cannot be read as SQL (the apply test says the same).
[[nodiscard]] std::vector<lint_finding> lint_source(const sql_source& src, const lint_options& opts);

/// The options of the suite for migration index of set.
[[nodiscard]] lint_options lint_options_for(const suite& s, const migration_set& set, std::size_t index,
                                            const lint_manifest* manifest);

/// Merges what lock tracing saw while migration src ran on the state before
/// it (run_stats::trace) into its static findings: a lock finding of a
/// statement that held no blocking lock on an existing table, or a rewrite
/// finding of one that rewrote nothing, is dropped; the others get the
/// evidence; a blocking lock no rule foresaw is a finding of its own.
void merge_trace(std::vector<lint_finding>& findings, const sql_source& src, const lock_trace& trace,
                 const lint_options& opts);

/// `lint K`: the findings of migration K's up script, with the evidence of
/// trace when K was traced; fails when one is an error.
[[nodiscard]] check_result check_lint(const suite& s, const migration_set& set, std::size_t index,
                                      const lock_trace* trace = nullptr);

}  // namespace pgmt
