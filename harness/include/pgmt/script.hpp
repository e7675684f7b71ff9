#pragma once
/// script: a SQL file split into statements with PostgreSQL's own scanner
/// (libpg_query), run in one transaction or statement by statement, with
/// compiler-style diagnostics (file:line:column, the line, a caret).

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pgmt {

class connection;
class result;
class sql_error;

/// A piece of SQL and where it came from: a whole file, or one section of it.
struct sql_source {
  std::filesystem::path path;   ///< the file, for messages
  std::string text;             ///< the SQL (BOM removed)
  int first_line = 1;           ///< line of path at which text begins
  bool no_transaction = false;  ///< `-- pgmt:no-transaction` (or dbmate's transaction:false)
  /// Why no_transaction, when not the directive (a tool that runs the file statement by statement).
  std::string no_transaction_why;
};

/// One statement of a source.
struct statement {
  std::size_t offset = 0;             ///< byte offset in the source text, leading comments included
  std::size_t length = 0;             ///< bytes, without the terminating semicolon
  std::size_t start = 0;              ///< byte offset of its first token
  std::string kind;                   ///< parse node name (IndexStmt, ...), empty if it did not parse
  bool transaction_control = false;   ///< BEGIN, COMMIT, ROLLBACK ...
  std::string no_transaction_reason;  ///< why it cannot run inside a transaction, if it cannot
  /// For lock tracing: it runs code (DO, CALL, a function in a SELECT) or
  /// drops or renames, so any table may be locked.
  bool runs_code = false;
  /// For lock tracing: a kind that may take a blocking lock on a table it names
  /// (ALTER TABLE, CREATE INDEX, CREATE TRIGGER, ...); DML and SELECT do not.
  bool may_block = false;
  /// For lock tracing: the tables it names that the source did not create before it.
  std::vector<std::string> tables;
  /// For lock tracing: it may rewrite or scan a table it names. False only for
  /// an ALTER TABLE whose every subcommand is known to do neither (a column
  /// added with a constant default, a default set, a column dropped, ...).
  bool may_rewrite = true;
  /// CREATE EXTENSION: the extension's name.
  std::string creates_extension;
};

/// A statement whose effect reaches past the database the migration runs in
/// (the whole server, or the rest of the session).
struct server_effect {
  std::size_t start = 0;  ///< byte offset of the statement's first token
  std::string what;       ///< what it does, PostgreSQL style ("ALTER SYSTEM changes ...")
  std::string instead;    ///< what to do instead, for the hint
  /// It changes a server pgmt does not own for good (settings, databases,
  /// tablespaces, other sessions): refused on an external server.
  bool refused_on_shared = false;
  std::string created_database;  ///< CREATE DATABASE: its name
  /// CREATE TABLESPACE: its name. On pgmt's own server a run of the migration
  /// after the first finds it there (it outlives the databases) and goes on
  /// as a new server would.
  std::string created_tablespace;
  /// Changes what new sessions start with (ALTER SYSTEM, ALTER ROLE or
  /// DATABASE ... SET): pgmt puts the server's settings back before it builds
  /// from nothing.
  bool changes_settings = false;
};

/// How a source is run.
enum class tx_mode {
  single_transaction,  ///< BEGIN; statements; COMMIT
  per_statement,       ///< each statement on its own (autocommit)
  self_managed,        ///< the file has its own BEGIN/COMMIT
};

/// A source ready to run: its statements and how to run them.
struct script_plan {
  std::vector<statement> statements;
  tx_mode mode = tx_mode::single_transaction;
  std::string mode_reason;  ///< why the mode is not single_transaction
  /// Creates, alters or drops roles (or may, in a DO block). Roles belong to
  /// the whole server, which several tests share: such a source runs holding
  /// a server-wide lock so two of them never race on the same role.
  bool touches_roles = false;
  /// Changes, or may change, what every database of the server shares or
  /// sees (roles, databases, tablespaces, server settings, other sessions):
  /// such a source never runs beside another database's migrations.
  bool shares_server = false;
  /// Sets the session's role or session user (SET [LOCAL] ROLE, SET SESSION
  /// AUTHORIZATION, or may, in code): pgmt's own statements after it run as
  /// the session's user again.
  bool sets_role = false;
  /// The statements that reach past the database, in order.
  std::vector<server_effect> effects;
};

/// A place in a file and what went wrong there, formatted like a compiler.
struct diagnostic {
  std::filesystem::path path;
  int line = 0;  ///< 0 when there is no place
  int column = 0;
  std::string message;  ///< PostgreSQL style, without the place
  std::string sqlstate;
  std::string detail, hint, context;
  std::string source_line;         ///< the text of line, for the caret display
  std::vector<std::string> notes;  ///< extra lines (server version, what to do)

  /// "path:line:col: message (SQLSTATE X)" then the line with a caret, detail,
  /// hint, context and notes, each on its own line.
  [[nodiscard]] std::string format() const;
  /// The first line only.
  [[nodiscard]] std::string headline() const;
};

/// A source that cannot be run as written, or failed on the server.
class script_error : public std::runtime_error {
 public:
  explicit script_error(diagnostic d);
  /// Where and what.
  [[nodiscard]] const diagnostic& diag() const noexcept { return diag_; }

 private:
  diagnostic diag_;
};

/// Byte offset of the first psql meta-command (a backslash outside quotes and
/// comments) in text, or nullopt.
std::optional<std::size_t> find_meta_command(std::string_view text);

/// Byte offset of the first token at or after offset (skips blanks and comments).
std::size_t skip_blanks_and_comments(std::string_view text, std::size_t offset);

/// A diagnostic at byte offset of src: its file:line:column and the line, for the caret.
diagnostic diagnostic_at(const sql_source& src, std::size_t offset, std::string message);

/// Byte offset in text of name as a whole word at or after from (any case; of
/// a qualified name, its last part too), outside line comments, or nullopt.
std::optional<std::size_t> find_identifier(std::string_view text, std::size_t from, const std::string& name);

/// Byte offset of the body of the first dollar-quoted string in text[from, to), or nullopt.
std::optional<std::size_t> dollar_body_start(std::string_view text, std::size_t from, std::size_t to);

/// Splits and classifies the statements of src. Throws script_error for a psql
/// meta-command or text the scanner cannot read (an unterminated quote).
script_plan plan_script(const sql_source& src);

/// Limits applied while a source runs; zero means none.
struct run_options {
  std::chrono::milliseconds statement_timeout{0};
  std::chrono::milliseconds lock_timeout{0};
  std::string label;  ///< what is running, for messages ("migration \"0002_notes\"")
  /// Called on the connection after the last statement, inside the migration's
  /// transaction when there is one (pgmt records the migration there).
  std::function<void(connection&)> before_commit;
  /// Called with the result of every statement that ran (pgTAP reads its output this way).
  std::function<void(const result&)> on_result;
  /// Statements for which this returns true are not sent (counted as run).
  std::function<bool(std::string_view)> skip_statement;
  /// Runs inside the transaction the caller has open, as a savepoint that is
  /// released where the source would commit (deferred constraints are checked
  /// there, as at a commit); the caller rolls everything back in the end. A
  /// source that cannot run inside a transaction throws nesting_error.
  bool nested = false;
  /// Reads what the source wrote (run_stats::written and catalogs) from the
  /// transaction's statistics: two small queries. Off where nobody asks.
  bool count_writes = true;
  /// The server is not pgmt's own (external): statements that would change it
  /// for good (server_effect::refused_on_shared) are refused before anything runs.
  bool shared_server = false;
  /// On pgmt's own server, drop the databases the source creates (CREATE
  /// DATABASE) before it runs, so that each run starts as on a new server; off
  /// where the run is meant to meet what an earlier run left (idempotency).
  bool drop_created_databases = true;
  /// Records, statement by statement, the blocking locks the source takes on
  /// tables that existed before it and the tables it rewrites (run_stats::trace).
  /// Only where it runs in one transaction of its own (not nested, no on_result).
  bool trace = false;
};

/// A source asked to run inside the caller's transaction that cannot: it has
/// its own BEGIN/COMMIT or statements that refuse a transaction block.
class nesting_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The system catalogs a script changed, by name.
struct catalog_changes {
  std::set<std::string> changed;  ///< rows inserted, updated or deleted
  std::set<std::string> deleted;  ///< rows deleted

  [[nodiscard]] bool empty() const noexcept { return changed.empty(); }
  /// Adds what other holds.
  void merge(const catalog_changes& other);
};

/// A blocking lock a statement took on a table that existed before the
/// source, or a rewrite of one (lock tracing).
struct traced_lock {
  std::size_t start = 0;  ///< byte offset of the statement's first token
  std::string table;      ///< schema.name
  std::string mode;       ///< "ACCESS EXCLUSIVE", "SHARE", ... (empty: the lock came earlier)
  bool rewritten = false;  ///< the statement gave the table a new file (a rewrite)
  bool scanned = false;    ///< the statement read the whole table (a validation), seen in its statistics
  std::size_t statements_after = 0;       ///< statements that ran while it was held
  std::chrono::milliseconds held{0};      ///< from the statement's start to the commit
  /// What released it when not the commit: "the rollback", "the ROLLBACK TO at line 5".
  std::string until;
};

/// What lock tracing saw of a source.
struct lock_trace {
  std::vector<traced_lock> locks;  ///< in statement order
  std::set<std::size_t> traced;    ///< the statements traced (their first token's offset)
  /// The traced statements after which the session held a blocking lock on a
  /// table that existed before (taken by it or earlier).
  std::set<std::size_t> holding;
  /// The traced statements whose scans of the tables they name were counted
  /// (ALTER TABLE and the like, in one transaction).
  std::set<std::size_t> scans_known;
};

/// What running a source took.
struct run_stats {
  std::size_t statements = 0;
  tx_mode mode = tx_mode::single_transaction;
  std::chrono::duration<double, std::milli> elapsed{0};
  /// The tables (schema.name) the source inserted into or deleted from, read
  /// from the transaction's statistics; nullopt when it ran outside one
  /// transaction or the server does not count (track_counts off).
  std::optional<std::vector<std::string>> written;
  /// The system catalogs (pg_class, ...) whose rows the source inserted,
  /// updated or deleted, from the same statistics; nullopt when not known.
  std::optional<catalog_changes> catalogs;
  /// The locks and rewrites, when run_options::trace and it ran in one transaction.
  std::optional<lock_trace> trace;
  /// Statements skip_statement left out, as their first line.
  std::vector<std::string> skipped;
  /// What the source did past its database (server_effect), as warnings at
  /// their file:line, for the verdict to print.
  std::vector<diagnostic> warnings;
};

/// Runs src on conn. On failure rolls back what it opened and throws
/// script_error pointing at the statement (and the character) that failed.
run_stats run_script(connection& conn, const sql_source& src, const run_options& opts);

/// The statements run_script is running now in this process, one per thread:
/// "path:line (label), running for 12 s". Empty when none runs.
std::vector<std::string> running_statements();

/// A diagnostic for error e raised by statement st of src.
diagnostic diagnose(const sql_source& src, const statement& st, const sql_error& e, int server_version_num,
                    const run_options& opts);

/// "15.18" from 150018.
std::string format_server_version(int version_num);

/// "500ms", "2s", "1min" as PostgreSQL writes durations.
std::string format_duration(std::chrono::milliseconds ms);

/// Parses "500ms", "2s", "5min", "1h" or a bare number of milliseconds.
std::chrono::milliseconds parse_duration(std::string_view text);

}  // namespace pgmt
