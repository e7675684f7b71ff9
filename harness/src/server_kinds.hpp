#pragma once
// What the kinds of server share inside pgmt: server.cpp holds the interface,
// the temp cluster and containers; server_external.cpp the external server.

#include "pgmt/server.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace pgmt::detail {

/// Records a server this process owns, for the signal thread to stop.
void register_server(const server_info& info, bool own_child, const std::string& keep);

/// Whether PGMT_KEEP's value keeps a server, given whether its run failed.
bool should_keep(const std::string& keep, bool failed);

/// n random hex digits from the kernel's random source.
std::string random_hex(std::size_t n);

/// The server of PGMT_DATABASE_URL: drops the databases that runs killed on
/// this host left there, then claims a database prefix for this run, owned
/// by opts.owner (else this process). Throws harness_error, the password
/// masked, when the server cannot be used.
std::unique_ptr<server> start_external(const server_options& opts);

/// Drops the databases of info's run on its external server; with keep,
/// leaves them for good (no later run removes them).
void stop_external(const server_info& info, bool keep);

}  // namespace pgmt::detail
