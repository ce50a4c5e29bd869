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

#include "fuzz_util.h"
#include "prefixcache/check.h"
#include "protocol/resp_command.h"
#include "protocol/resp_parser.h"

namespace prefixcache::protocol {
namespace {

using Outcome = fuzz::Outcome<Request>;

// Small limits so that fuzz inputs reach them.
constexpr ParserLimits kFuzzLimits{.max_bulk_bytes = 40000,
                                   .max_elements = 16,
                                   .max_request_bytes = 60000,
                                   .max_inline_bytes = 256};

void Drain(RequestParser& parser, Outcome& out, std::size_t fed) {
  while (parser.HasRequest()) {
    Request request = parser.PopRequest();
    std::size_t bytes = 0;
    for (const auto& arg : request.args) bytes += arg.size();
    PC_CHECK(bytes <= fed);
    if (!request.rejected.empty()) PC_CHECK(request.args.empty());
    out.parsed.push_back(std::move(request));
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
  out.error = fuzz::FeedInPieces(parser, input, seed, false,
                                 [&](std::size_t fed) { Drain(parser, out, fed); });
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
  PC_CHECK(a.parsed.size() == b.parsed.size());
  for (std::size_t i = 0; i < a.parsed.size(); ++i) PC_CHECK(SameArgs(a.parsed[i], b.parsed[i]));
}

void CheckRoundTrip(const Request& request, std::uint64_t seed) {
  std::vector<std::string_view> args;
  for (const auto& arg : request.args) args.push_back(arg.view());
  const std::string encoded = EncodeCommand(args);
  const Outcome again = ParseInPieces(encoded, ParserLimits{}, seed);
  PC_CHECK(again.error.empty());
  PC_CHECK(again.parsed.size() == 1);
  PC_CHECK(SameArgs(again.parsed[0], request));
}

void FuzzOne(std::string_view input) {
  const ParserLimits limits = kFuzzLimits;
  const std::uint64_t seed = fuzz::SeedOf(input);

  const Outcome whole = ParseWhole(input, limits);
  CheckSame(whole, ParseInPieces(input, limits, seed));
  CheckSame(whole, ParseInPieces(input, limits, seed + 1));

  for (const Request& request : whole.parsed) {
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
  if (!input.empty()) {
    std::string value;
    while (value.size() < RequestParser::kDirectBulkBytes + 7) value.append(input);
    Request request;
    request.args.push_back(Buffer::Copy(std::string_view("SET")));
    request.args.push_back(Buffer::Copy(value));
    CheckRoundTrip(request, seed);
  }
}

}  // namespace
}  // namespace prefixcache::protocol

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  prefixcache::protocol::FuzzOne(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
