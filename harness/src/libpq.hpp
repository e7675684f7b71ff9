#pragma once
// libpq, loaded the first time pgmt talks to a server. A test that only asks
// its run's engine for a verdict never loads it: libpq and the libraries it
// pulls in (TLS, Kerberos, LDAP) take longer to load than such a test takes
// to run, and a suite has a test process per migration and check.

#include <libpq-fe.h>

namespace pgmt {

#define PGMT_LIBPQ_FUNCTIONS(X)                                                                              \
  X(PQcmdTuples)                                                                                             \
  X(PQclear)                                                                                                 \
  X(PQconnectdb)                                                                                             \
  X(PQconninfoFree)                                                                                          \
  X(PQconninfoParse)                                                                                         \
  X(PQdb)                                                                                                    \
  X(PQerrorMessage)                                                                                          \
  X(PQescapeIdentifier)                                                                                      \
  X(PQescapeLiteral)                                                                                         \
  X(PQexec)                                                                                                  \
  X(PQexecParams)                                                                                            \
  X(PQexecPrepared)                                                                                          \
  X(PQfinish)                                                                                                \
  X(PQfname)                                                                                                 \
  X(PQcancel)                                                                                                \
  X(PQfreeCancel)                                                                                            \
  X(PQfreemem)                                                                                               \
  X(PQgetCancel)                                                                                             \
  X(PQftype)                                                                                                 \
  X(PQgetisnull)                                                                                             \
  X(PQgetlength)                                                                                             \
  X(PQgetvalue)                                                                                              \
  X(PQnfields)                                                                                               \
  X(PQntuples)                                                                                               \
  X(PQping)                                                                                                  \
  X(PQprepare)                                                                                               \
  X(PQresultErrorField)                                                                                      \
  X(PQresultStatus)                                                                                          \
  X(PQserverVersion)                                                                                         \
  X(PQsetNoticeReceiver)                                                                                     \
  X(PQstatus)                                                                                                \
  X(PQtransactionStatus)

/// The libpq functions pgmt calls, by their own names.
struct libpq_api {
#define PGMT_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  PGMT_LIBPQ_FUNCTIONS(PGMT_LIBPQ_MEMBER)
#undef PGMT_LIBPQ_MEMBER
};

/// libpq, loaded on first use. Throws harness_error when it cannot be loaded.
const libpq_api& libpq();

}  // namespace pgmt
