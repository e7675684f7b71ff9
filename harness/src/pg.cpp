#include "pgmt/pg.hpp"

#include "libpq.hpp"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <regex>
#include <thread>

namespace pgmt {

namespace {

std::string field(const PGresult* res, int code) {
  const char* v = libpq().PQresultErrorField(res, code);
  return v ? std::string(v) : std::string();
}

int int_field(const PGresult* res, int code) {
  const char* v = libpq().PQresultErrorField(res, code);
  return v ? std::atoi(v) : 0;
}

server_diagnostics diagnostics_of(const PGresult* res, const PGconn* conn) {
  server_diagnostics d;
  if (res) {
    d.severity = field(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (d.severity.empty()) d.severity = field(res, PG_DIAG_SEVERITY);
    d.sqlstate = field(res, PG_DIAG_SQLSTATE);
    d.message = field(res, PG_DIAG_MESSAGE_PRIMARY);
    d.detail = field(res, PG_DIAG_MESSAGE_DETAIL);
    d.hint = field(res, PG_DIAG_MESSAGE_HINT);
    d.context = field(res, PG_DIAG_CONTEXT);
    d.position = int_field(res, PG_DIAG_STATEMENT_POSITION);
    d.internal_position = int_field(res, PG_DIAG_INTERNAL_POSITION);
    d.internal_query = field(res, PG_DIAG_INTERNAL_QUERY);
  }
  if (d.message.empty()) {
    const char* m = conn ? libpq().PQerrorMessage(conn) : nullptr;
    d.message = m ? m : "unknown error";
    while (!d.message.empty() && (d.message.back() == '\n' || d.message.back() == ' ')) d.message.pop_back();
  }
  if (d.severity.empty()) d.severity = "ERROR";
  return d;
}

void on_notice(void* arg, const PGresult* res) {
  auto* sink = static_cast<std::vector<std::string>*>(arg);
  std::string sev = field(res, PG_DIAG_SEVERITY);
  std::string msg = field(res, PG_DIAG_MESSAGE_PRIMARY);
  sink->push_back(sev.empty() ? msg : sev + ": " + msg);
}

}  // namespace

sql_error::sql_error(server_diagnostics diag, std::string statement)
    : pg_error(diag.message + (diag.sqlstate.empty() ? "" : " (SQLSTATE " + diag.sqlstate + ")")),
      diag_(std::move(diag)),
      statement_(std::move(statement)) {}

void throw_sql_error(server_diagnostics diag, std::string statement) {
  const std::string s = diag.sqlstate;
  if (s == "57014") throw query_canceled(std::move(diag), std::move(statement));
  if (s == "55P03") throw lock_not_available(std::move(diag), std::move(statement));
  if (s == "55006") throw object_in_use(std::move(diag), std::move(statement));
  if (s.rfind("23", 0) == 0) throw integrity_violation(std::move(diag), std::move(statement));
  if (s.rfind("42", 0) == 0) throw syntax_or_access_error(std::move(diag), std::move(statement));
  throw sql_error(std::move(diag), std::move(statement));
}

// ---- result ----

void result::deleter::operator()(pg_result* r) const noexcept { libpq().PQclear(r); }

result::result(pg_result* res) noexcept : res_(res) {}
result::result(result&&) noexcept = default;
result& result::operator=(result&&) noexcept = default;
result::~result() = default;

int result::rows() const noexcept { return res_ ? libpq().PQntuples(res_.get()) : 0; }
int result::columns() const noexcept { return res_ ? libpq().PQnfields(res_.get()) : 0; }
std::string result::column_name(int c) const {
  const char* n = libpq().PQfname(res_.get(), c);
  return n ? n : "";
}
unsigned result::column_type(int c) const noexcept { return res_ ? libpq().PQftype(res_.get(), c) : 0; }
bool result::is_null(int r, int c) const noexcept { return libpq().PQgetisnull(res_.get(), r, c) != 0; }
std::string result::value(int r, int c) const {
  return std::string(libpq().PQgetvalue(res_.get(), r, c), libpq().PQgetlength(res_.get(), r, c));
}
std::optional<std::string> result::get(int r, int c) const {
  if (is_null(r, c)) return std::nullopt;
  return value(r, c);
}
long result::affected() const noexcept {
  const char* t = res_ ? libpq().PQcmdTuples(res_.get()) : nullptr;
  return (t && *t) ? std::atol(t) : 0;
}

// ---- connection ----

void connection::deleter::operator()(pg_conn* c) const noexcept { libpq().PQfinish(c); }

connection::connection(const std::string& conninfo)
    : conn_(libpq().PQconnectdb(conninfo.c_str())),
      conninfo_(conninfo),
      notices_(std::make_unique<std::vector<std::string>>()) {
  if (!conn_) throw connection_error("could not allocate a connection");
  if (libpq().PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string msg = libpq().PQerrorMessage(conn_.get());
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    // libpq may quote the connection string's words (a URL it cannot parse).
    throw connection_error("could not connect to \"" + mask_password(conninfo) +
                           "\": " + mask_password_in(msg, conninfo));
  }
  libpq().PQsetNoticeReceiver(conn_.get(), on_notice, notices_.get());
}

// Takes ownership of raw; throws connection_error or the sql_error that fits.
result checked(PGresult* raw, PGconn* conn, std::string statement) {
  result res(raw);
  ExecStatusType st = raw ? libpq().PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
    if (libpq().PQstatus(conn) == CONNECTION_BAD) {
      std::string msg = libpq().PQerrorMessage(conn);
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      throw connection_error("connection lost: " + msg);
    }
    throw_sql_error(diagnostics_of(raw, conn), std::move(statement));
  }
  return res;
}

connection::connection(connection&&) noexcept = default;
connection& connection::operator=(connection&&) noexcept = default;
connection::~connection() = default;

result connection::exec(std::string_view sql) {
  std::string text(sql);
  PGresult* raw = libpq().PQexec(conn_.get(), text.c_str());
  return checked(raw, conn_.get(), std::move(text));
}

result connection::exec_params(std::string_view sql, const std::vector<std::optional<std::string>>& params) {
  std::string text(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* raw = libpq().PQexecParams(conn_.get(), text.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
  return checked(raw, conn_.get(), std::move(text));
}

result connection::exec_prepared(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
  if (!prepared_) prepared_ = std::make_unique<std::unordered_map<std::string, std::string>>();
  auto it = prepared_->find(sql);
  if (it == prepared_->end()) {
    std::string name = "pgmt_q" + std::to_string(prepared_->size() + 1);
    PGresult* raw = libpq().PQprepare(conn_.get(), name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr);
    checked(raw, conn_.get(), sql);
    it = prepared_->emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* raw = libpq().PQexecPrepared(conn_.get(), it->second.c_str(), static_cast<int>(values.size()), values.data(),
                                 nullptr, nullptr, 0);
  return checked(raw, conn_.get(), sql);
}

std::string connection::quote_ident(std::string_view name) const {
  char* q = libpq().PQescapeIdentifier(conn_.get(), name.data(), name.size());
  if (!q) throw pg_error("could not quote identifier \"" + std::string(name) + "\"");
  std::string out(q);
  libpq().PQfreemem(q);
  return out;
}

std::string connection::quote_literal(std::string_view text) const {
  char* q = libpq().PQescapeLiteral(conn_.get(), text.data(), text.size());
  if (!q) throw pg_error("could not quote literal");
  std::string out(q);
  libpq().PQfreemem(q);
  return out;
}

int connection::server_version() const noexcept { return libpq().PQserverVersion(conn_.get()); }

tx_status connection::transaction_status() const noexcept {
  switch (libpq().PQtransactionStatus(conn_.get())) {
  case PQTRANS_IDLE: return tx_status::idle;
  case PQTRANS_ACTIVE: return tx_status::active;
  case PQTRANS_INTRANS: return tx_status::in_transaction;
  case PQTRANS_INERROR: return tx_status::in_error;
  default: return tx_status::unknown;
  }
}

std::string connection::database() const {
  const char* d = libpq().PQdb(conn_.get());
  return d ? d : "";
}

std::vector<std::string> connection::take_notices() {
  std::vector<std::string> out;
  out.swap(*notices_);
  return out;
}

std::string make_conninfo(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += ' ';
    out += k;
    out += "='";
    for (char ch : v) {
      if (ch == '\'' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '\'';
  }
  return out;
}

bool ping(const std::string& conninfo) { return libpq().PQping(conninfo.c_str()) == PQPING_OK; }

std::string mask_password(std::string_view conninfo) {
  std::string s(conninfo);
  // URL form: scheme://user:password@host
  // (up to the last @ before the path: a password may hold an unencoded @)
  static const std::regex url_pw(R"(((?:postgres|postgresql)://[^:/@\s]*:)[^/\s]*@)");
  s = std::regex_replace(s, url_pw, "$1********@");
  // key/value form and URL parameters: password=...
  static const std::regex kv_pw(R"((password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*))");
  s = std::regex_replace(s, kv_pw, "$1********");
  return s;
}

std::string mask_password_in(std::string text, std::string_view conninfo) {
  const std::string ci(conninfo);
  std::vector<std::string> secrets;
  static const std::regex url_pw(R"((?:postgres|postgresql)://[^:/@\s]*:([^/\s]*)@)");
  static const std::regex kv_pw(R"(password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]*))");
  // Each as written and as libpq reads it (quotes and backslashes of the
  // key/value form, percent-encoding of a URL), which its messages may show.
  auto decoded = [](const std::string& v, bool quoted) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (quoted && v[i] == '\\' && i + 1 < v.size()) {
        out += v[++i];
      } else if (!quoted && v[i] == '%' && i + 2 < v.size() &&
                 std::isxdigit(static_cast<unsigned char>(v[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(v[i + 2]))) {
        out += static_cast<char>(std::stoi(v.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += v[i];
      }
    }
    return out;
  };
  for (const auto* re : {&url_pw, &kv_pw})
    for (auto it = std::sregex_iterator(ci.begin(), ci.end(), *re); it != std::sregex_iterator(); ++it) {
      std::string v = (*it)[1].str();
      const bool quoted = v.size() >= 2 && v.front() == '\'' && v.back() == '\'';
      if (quoted) v = v.substr(1, v.size() - 2);
      for (const std::string& secret : {v, decoded(v, quoted)})
        if (!secret.empty()) secrets.push_back(secret);
      // An unencoded @ in a URL's password: libpq takes what follows it for
      // the host, and its messages show that part on its own.
      if (re == &url_pw)
        for (std::size_t at = v.find('@'); at != std::string::npos; at = v.find('@', at + 1))
          if (v.size() - at - 1 >= 3) secrets.push_back(v.substr(at + 1));
    }
  // The longest first, so that no part of one is left around the mask of another.
  std::sort(secrets.begin(), secrets.end(), [](const auto& x, const auto& y) { return x.size() > y.size(); });
  for (const auto& secret : secrets)
    for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 8))
      text.replace(at, secret.size(), "********");
  return mask_password(text);
}

struct watchdog::state {
  PGcancel* cancel = nullptr;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::chrono::steady_clock::time_point> deadline;  // armed
  bool fired = false;
  bool done = false;
  std::thread thread;
};

watchdog::watchdog(connection& conn) : st_(std::make_unique<state>()) {
  st_->cancel = libpq().PQgetCancel(conn.conn_.get());
  st_->thread = std::thread([s = st_.get()] {
    std::unique_lock<std::mutex> lock(s->mu);
    while (!s->done) {
      if (!s->deadline) {
        s->cv.wait(lock);
        continue;
      }
      if (s->cv.wait_until(lock, *s->deadline) == std::cv_status::timeout && s->deadline &&
          std::chrono::steady_clock::now() >= *s->deadline) {
        s->deadline.reset();
        s->fired = true;
        char why[256];
        if (s->cancel) libpq().PQcancel(s->cancel, why, sizeof why);
      }
    }
  });
}

watchdog::~watchdog() {
  {
    std::lock_guard<std::mutex> lock(st_->mu);
    st_->done = true;
  }
  st_->cv.notify_all();
  st_->thread.join();
  if (st_->cancel) libpq().PQfreeCancel(st_->cancel);
}

void watchdog::arm(std::chrono::milliseconds limit) {
  {
    std::lock_guard<std::mutex> lock(st_->mu);
    st_->fired = false;
    st_->deadline = std::chrono::steady_clock::now() + limit;
  }
  st_->cv.notify_all();
}

bool watchdog::disarm() {
  std::lock_guard<std::mutex> lock(st_->mu);
  st_->deadline.reset();
  const bool fired = st_->fired;
  st_->fired = false;
  return fired;
}

}  // namespace pgmt
