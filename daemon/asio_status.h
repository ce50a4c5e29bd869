// Conversion of Asio (Boost.System) error codes into Status, so that no error_code leaves
// daemon/. Pure functions, thread-safe.
#pragma once

#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>

#include "prefixcache/status.h"

namespace prefixcache::daemon {

// IoError "<what>: <message>", or Ok when `ec` is clear.
inline Status FromErrorCode(const boost::system::error_code& ec, std::string_view what) {
  if (!ec) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += ec.message();
  return Status::IoError(std::move(msg));
}

}  // namespace prefixcache::daemon
