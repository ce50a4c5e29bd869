// Status and Result<T>: the error values of prefixcache. No exceptions cross a request
// path; a function that can fail returns a Status, or a Result<T> holding a T or a Status.
// Both are plain values: cheap to copy, thread-compatible (no shared state), and
// [[nodiscard]]: a caller that means to ignore one says so with a (void) cast and why.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "prefixcache/check.h"

namespace prefixcache {

enum class StatusCode : std::uint8_t {
  kOk = 0,
  kNotFound,
  kInvalidArgument,
  kRejected,     // refused by a limit or policy (too large, too many, not allowed)
  kIoError,      // the disk or the network failed
  kCorruption,   // stored bytes failed their checksum
  kUnavailable,  // a component is not running (spill tier closed, node down)
  kTimeout,
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // Ok

  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg = {}) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status Rejected(std::string msg) { return {StatusCode::kRejected, std::move(msg)}; }
  static Status IoError(std::string msg) { return {StatusCode::kIoError, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status Timeout(std::string msg) { return {StatusCode::kTimeout, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: memory.capacity: expected a size like \"4GiB\"".
  std::string ToString() const {
    if (ok()) return "OK";
    std::string out(CodeName(code_));
    if (!message_.empty()) {
      out += ": ";
      out += message_;
    }
    return out;
  }

  static std::string_view CodeName(StatusCode code) {
    switch (code) {
      case StatusCode::kOk:
        return "OK";
      case StatusCode::kNotFound:
        return "NotFound";
      case StatusCode::kInvalidArgument:
        return "InvalidArgument";
      case StatusCode::kRejected:
        return "Rejected";
      case StatusCode::kIoError:
        return "IoError";
      case StatusCode::kCorruption:
        return "Corruption";
      case StatusCode::kUnavailable:
        return "Unavailable";
      case StatusCode::kTimeout:
        return "Timeout";
    }
    return "Unknown";
  }

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A T or a non-Ok Status, used like std::expected<T, Status>.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    PC_CHECK(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // The error; Status::Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & {
    PC_CHECK(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    PC_CHECK(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    PC_CHECK(ok());
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace prefixcache
