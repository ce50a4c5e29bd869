#include "config/host_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstddef>

namespace prefixcache::config {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Strict dotted quad: four decimal parts of 1 to 3 digits, each at most 255.
bool IsIpv4(std::string_view text) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    unsigned value = 0;
    while (i < text.size() && IsDigit(text[i]) && i - start < 3) {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    if (i == start || value > 255) return false;
    ++parts;
    if (i == text.size()) return parts == 4;
    if (text[i] != '.' || parts == 4) return false;
    ++i;
  }
}

bool ParseIpv6(std::string_view text, in6_addr* out) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  std::string copy(text);  // inet_pton needs a terminated string
  return inet_pton(AF_INET6, copy.c_str(), out) == 1;
}

// RFC 1123 names, plus '_' which some internal DNS setups use: dot-separated labels of
// letters, digits, '-' and '_', each 1..63 characters, 253 in all.
bool IsHostName(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  std::size_t label = 0;
  for (char c : text) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (IsAlnum(c) || c == '-' || c == '_') {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label != 0;
}

bool LooksNumeric(std::string_view text) {
  for (char c : text) {
    if (!IsDigit(c) && c != '.') return false;
  }
  return true;
}

// `text` in double quotes. Built by appending: GCC 12 at -O3 reports a false -Wrestrict on
// `"literal" + std::string` (GCC bug 105329).
std::string Quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.append(1, '"').append(text).append(1, '"');
  return out;
}

}  // namespace

Result<std::pair<std::string, std::uint16_t>> ParseHostPort(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("no \"]\" after an IPv6 address");
    }
    host = text.substr(1, close - 1);
    in6_addr address;
    if (!ParseIpv6(host, &address)) {
      return Status::InvalidArgument(Quoted(host) + " is not an IPv6 address");
    }
    if (close + 1 == text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument("no \":port\"");
    }
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Status::InvalidArgument("no \":port\"");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument("an IPv6 address needs brackets, like [::1]:7379");
    }
    if (host.empty()) return Status::InvalidArgument("empty host");
    if (LooksNumeric(host) ? !IsIpv4(host) : !IsHostName(host)) {
      return Status::InvalidArgument(Quoted(host) + " is neither a host name nor an IPv4 address");
    }
  }

  unsigned value = 0;
  bool ok = !port.empty() && port.size() <= 5;
  for (char c : port) {
    ok = ok && IsDigit(c);
    if (ok) value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (!ok || value > 65535) {
    return Status::InvalidArgument("port is not a number from 0 to 65535");
  }
  return std::pair<std::string, std::uint16_t>(std::string(host),
                                               static_cast<std::uint16_t>(value));
}

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.size() == 9) {
    bool localhost = true;
    for (std::size_t i = 0; i < host.size(); ++i) {
      const char lower = (host[i] >= 'A' && host[i] <= 'Z') ? host[i] - 'A' + 'a' : host[i];
      localhost = localhost && lower == "localhost"[i];
    }
    if (localhost) return true;
  }
  if (IsIpv4(host)) return host.substr(0, 4) == "127.";
  in6_addr address;
  if (!ParseIpv6(host, &address)) return false;
  if (IN6_IS_ADDR_LOOPBACK(&address)) return true;
  return IN6_IS_ADDR_V4MAPPED(&address) && address.s6_addr[12] == 127;
}

}  // namespace prefixcache::config
