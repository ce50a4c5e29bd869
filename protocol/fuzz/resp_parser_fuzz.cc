// libFuzzer target for RequestParser. Each input is parsed whole, then again split into
// pieces of varying size (reading only where ReadBuffer() says); both must give the same
// requests and the same error. Checks that rejected requests hold no arguments, that
// accepted ones respect the limits and never hold more bytes than were fed, and that every
// request re-encoded with EncodeCommand parses back to itself, also as large values.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "prefixcache/check.h"
#include "protocol/resp_command.h"
#include "protocol/resp_parser.h"

namespace {

using prefixcache::Status;
using prefixcache::protocol::EncodeCommand;
using prefixcache::protocol::ParserLimits;
using prefixcache::protocol::Request;
using prefixcache::protocol::RequestParser;

struct Outcome {
  std::vector<Request> requests;
  std::string error;
};

// Small limits so that fuzz inputs reach them.
ParserLimits FuzzLimits() {
  ParserLimits limits;
  limits.max_bulk_bytes = 40000;
  limits.max_elements = 16;
  limits.max_request_bytes = 60000;
  limits.max_inline_bytes = 256;
  return limits;
}

// A deterministic generator for piece sizes, seeded from the input.
struct Rng {
  std::uint64_t state;
  std::uint64_t Next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  }
};

void Drain(RequestParser& parser, Outcome& out, std::size_t fed) {
  while (parser.HasRequest()) {
    Request request = parser.PopRequest();
    std::size_t bytes = 0;
    for (const auto& arg : request.args) bytes += arg.size();
    PC_CHECK(bytes <= fed);
    if (!request.rejected.empty()) PC_CHECK(request.args.empty());
    out.requests.push_back(std::move(request));
  }
  PC_CHECK(parser.PendingBytes() <= fed);
}

Outcome ParseWhole(std::string_view input, const ParserLimits& limits) {
  RequestParser parser(limits);
  Outcome out;
  Status status = parser.Feed(input);
  Drain(parser, out, input.size());
  if (!status.ok()) out.error = status.message();
  return out;
}

Outcome ParseInPieces(std::string_view input, const ParserLimits& limits, std::uint64_t seed) {
  RequestParser parser(limits);
  Outcome out;
  Rng rng{seed};
  std::size_t at = 0;
  while (at < input.size()) {
    std::span<std::byte> into = parser.ReadBuffer();
    PC_CHECK(!into.empty());
    std::size_t n = rng.Next() % 4 == 0 ? rng.Next() % 5000 + 1 : rng.Next() % 16 + 1;
    n = std::min({n, into.size(), input.size() - at});
    std::memcpy(into.data(), input.data() + at, n);
    at += n;
    Status status = parser.Commit(n);
    Drain(parser, out, at);
    if (!status.ok()) {
      out.error = status.message();
      // A failed parser keeps failing the same way.
      PC_CHECK(parser.Commit(0).message() == out.error);
      break;
    }
  }
  return out;
}

bool SameArgs(const Request& a, const Request& b) {
  if (a.rejected != b.rejected || a.args.size() != b.args.size()) return false;
  for (std::size_t i = 0; i < a.args.size(); ++i) {
    if (a.args[i].view() != b.args[i].view()) return false;
  }
  return true;
}

void CheckSame(const Outcome& a, const Outcome& b) {
  PC_CHECK(a.error == b.error);
  PC_CHECK(a.requests.size() == b.requests.size());
  for (std::size_t i = 0; i < a.requests.size(); ++i)
    PC_CHECK(SameArgs(a.requests[i], b.requests[i]));
}

void CheckRoundTrip(const Request& request, std::uint64_t seed) {
  std::vector<std::string_view> args;
  for (const auto& arg : request.args) args.push_back(arg.view());
  const std::string encoded = EncodeCommand(args);
  const Outcome again = ParseInPieces(encoded, ParserLimits{}, seed);
  PC_CHECK(again.error.empty());
  PC_CHECK(again.requests.size() == 1);
  PC_CHECK(SameArgs(again.requests[0], request));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ParserLimits limits = FuzzLimits();
  std::uint64_t seed = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < std::min<std::size_t>(size, 64); ++i) {
    seed = (seed ^ data[i]) * 0x100000001b3ull;
  }

  const Outcome whole = ParseWhole(input, limits);
  CheckSame(whole, ParseInPieces(input, limits, seed));
  CheckSame(whole, ParseInPieces(input, limits, seed + 1));

  for (const Request& request : whole.requests) {
    if (!request.rejected.empty()) continue;
    PC_CHECK(!request.args.empty());
    PC_CHECK(request.args.size() <= limits.max_elements);
    std::size_t bytes = 0;
    for (const auto& arg : request.args) {
      PC_CHECK(arg.size() <= limits.max_bulk_bytes);
      bytes += arg.size();
    }
    PC_CHECK(bytes <= limits.max_request_bytes);
    CheckRoundTrip(request, seed);
  }

  // The input as one large value, so the direct-read path runs on every input.
  if (size > 0) {
    std::string value;
    while (value.size() < RequestParser::kDirectBulkBytes + 7) value.append(input);
    Request request;
    request.args.push_back(prefixcache::Buffer::Copy(std::string_view("SET")));
    request.args.push_back(prefixcache::Buffer::Copy(value));
    CheckRoundTrip(request, seed);
  }
  return 0;
}
