#pragma once
/// pg: move-only owners of libpq connections and results, and the error
/// hierarchy keyed on SQLSTATE. libpq's headers stay out of this header.

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;

namespace pgmt {

/// Everything the server said about a failed statement, as libpq reports it.
struct server_diagnostics {
  std::string severity;        ///< ERROR, FATAL, ...
  std::string sqlstate;        ///< five characters, e.g. 42P01
  std::string message;         ///< primary message
  std::string detail;          ///< may be empty
  std::string hint;            ///< may be empty
  std::string context;         ///< may be empty
  int position = 0;            ///< 1-based character position in the statement, 0 if none
  int internal_position = 0;   ///< position in internal_query, 0 if none
  std::string internal_query;  ///< query generated internally (PL/pgSQL), may be empty
};

/// Base of every error pgmt raises about the database.
class pg_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The connection could not be made or was lost.
class connection_error : public pg_error {
 public:
  using pg_error::pg_error;
};

/// The server rejected a statement. Carries the statement and the diagnostics.
class sql_error : public pg_error {
 public:
  sql_error(server_diagnostics diag, std::string statement);
  /// What the server said.
  [[nodiscard]] const server_diagnostics& diagnostics() const noexcept { return diag_; }
  /// SQLSTATE of the error.
  [[nodiscard]] const std::string& sqlstate() const noexcept { return diag_.sqlstate; }
  /// The statement that failed, as sent.
  [[nodiscard]] const std::string& statement() const noexcept { return statement_; }

 private:
  server_diagnostics diag_;
  std::string statement_;
};

/// Class 42: syntax error or access rule violation.
class syntax_or_access_error : public sql_error {
 public:
  using sql_error::sql_error;
};
/// Class 57014: statement_timeout (or a cancel) stopped the statement.
class query_canceled : public sql_error {
 public:
  using sql_error::sql_error;
};
/// 55P03: lock_timeout expired.
class lock_not_available : public sql_error {
 public:
  using sql_error::sql_error;
};
/// 55006: the object (usually a database) is being used by other sessions.
class object_in_use : public sql_error {
 public:
  using sql_error::sql_error;
};
/// Class 23: integrity constraint violation.
class integrity_violation : public sql_error {
 public:
  using sql_error::sql_error;
};

/// Throws the sql_error subclass that fits diag's SQLSTATE.
[[noreturn]] void throw_sql_error(server_diagnostics diag, std::string statement);

/// A completed result. Move-only; frees the PGresult when destroyed.
class result {
 public:
  result() = default;
  explicit result(pg_result* res) noexcept;
  result(result&&) noexcept;
  result& operator=(result&&) noexcept;
  result(const result&) = delete;
  result& operator=(const result&) = delete;
  ~result();

  /// Number of rows returned.
  [[nodiscard]] int rows() const noexcept;
  /// Number of columns returned.
  [[nodiscard]] int columns() const noexcept;
  /// Name of column c.
  [[nodiscard]] std::string column_name(int c) const;
  /// Type OID of column c.
  [[nodiscard]] unsigned column_type(int c) const noexcept;
  /// True when the value at (r, c) is NULL.
  [[nodiscard]] bool is_null(int r, int c) const noexcept;
  /// Text of the value at (r, c); empty for NULL.
  [[nodiscard]] std::string value(int r, int c) const;
  /// Value at (r, c), or nullopt for NULL.
  [[nodiscard]] std::optional<std::string> get(int r, int c) const;
  /// Rows affected by INSERT/UPDATE/DELETE, 0 when not applicable.
  [[nodiscard]] long affected() const noexcept;

 private:
  struct deleter {
    void operator()(pg_result* r) const noexcept;
  };
  std::unique_ptr<pg_result, deleter> res_;
};

/// Transaction state of a connection, as PQtransactionStatus reports it.
enum class tx_status { idle, active, in_transaction, in_error, unknown };

/// A connection to one database. Move-only; closed when destroyed.
class connection {
 public:
  /// Connects with a libpq connection string; throws connection_error.
  explicit connection(const std::string& conninfo);
  connection(connection&&) noexcept;
  connection& operator=(connection&&) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection();

  /// Runs sql (one or more statements, no parameters); throws sql_error.
  result exec(std::string_view sql);
  /// Runs one statement with text parameters ($1, $2, ...); throws sql_error.
  result exec_params(std::string_view sql, const std::vector<std::optional<std::string>>& params);
  /// Runs one statement with text parameters as exec_params does, prepared
  /// on this connection the first time this text is run and reused after:
  /// for the catalog queries pgmt runs again and again, whose planning costs
  /// more than their running.
  result exec_prepared(const std::string& sql, const std::vector<std::optional<std::string>>& params = {});
  /// Quotes name as an identifier.
  [[nodiscard]] std::string quote_ident(std::string_view name) const;
  /// Quotes text as a literal.
  [[nodiscard]] std::string quote_literal(std::string_view text) const;
  /// server_version_num, e.g. 150018.
  [[nodiscard]] int server_version() const noexcept;
  /// Where the connection stands with respect to transactions.
  [[nodiscard]] tx_status transaction_status() const noexcept;
  /// Name of the database this connection is on.
  [[nodiscard]] std::string database() const;
  /// The connection string it was opened with (for a second session).
  [[nodiscard]] const std::string& conninfo() const noexcept { return conninfo_; }
  /// Notices the server sent since the last call, oldest first; clears them.
  std::vector<std::string> take_notices();

 private:
  struct deleter {
    void operator()(pg_conn* c) const noexcept;
  };
  std::unique_ptr<pg_conn, deleter> conn_;
  std::string conninfo_;
  std::unique_ptr<std::vector<std::string>> notices_;
  std::unique_ptr<std::unordered_map<std::string, std::string>> prepared_;  // text -> statement name
  friend class watchdog;
};

/// Cancels the statement running on a connection once it has run longer than
/// it may, from the client: a limit the script cannot lift (SET
/// statement_timeout = 0, a function with SET statement_timeout). One thread
/// for the watchdog's life, armed around each statement.
class watchdog {
 public:
  explicit watchdog(connection& conn);
  ~watchdog();
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  /// The next statement may run for limit.
  void arm(std::chrono::milliseconds limit);
  /// The statement is over; returns whether the watchdog cancelled it.
  bool disarm();

 private:
  struct state;
  std::unique_ptr<state> st_;
};

/// Builds a libpq connection string from key/value pairs, quoting values.
std::string make_conninfo(const std::vector<std::pair<std::string, std::string>>& params);

/// True when the server at conninfo accepts connections (PQping).
bool ping(const std::string& conninfo);

/// conninfo with its password replaced by "********", for messages.
std::string mask_password(std::string_view conninfo);

/// text (a message about conninfo, which may quote parts of it, libpq's
/// included) with the password of conninfo replaced by asterisks.
std::string mask_password_in(std::string text, std::string_view conninfo);

}  // namespace pgmt
