// "host:port" network addresses as written in the config file, and the loopback test the
// daemon uses to decide whether a listener is reachable from other machines. Free
// functions on plain values; thread-safe. No name resolution happens here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "prefixcache/status.h"

namespace prefixcache::config {

// Splits "host:port" into its host and port. The host is a DNS name ("cache-3.internal",
// "localhost"), a dotted IPv4 address ("10.0.0.7", "0.0.0.0") or an IPv6 address in
// brackets ("[::1]", returned without the brackets). The port is decimal 0..65535; 0
// means "any free port" to a listener and is left for the caller to refuse where it makes
// no sense. On failure returns InvalidArgument whose message says only why, without
// repeating the text ("no \":port\"", "port is not a number from 0 to 65535", ...), so
// that callers can put it after their own context.
Result<std::pair<std::string, std::uint16_t>> ParseHostPort(std::string_view text);

// True for hosts that only this machine can reach: IPv4 127.0.0.0/8, "localhost"
// (any case), IPv6 ::1 and ::ffff:127.x.x.x, with or without brackets. False for
// anything else, including "0.0.0.0" and names that might resolve to loopback.
bool IsLoopbackHost(std::string_view host);

}  // namespace prefixcache::config
