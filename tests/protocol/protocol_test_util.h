// Helpers shared by the protocol tests: describing parsed requests and replies as short
// strings so expectations read like the wire, and feeding input in pieces.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/resp_parser.h"
#include "protocol/resp_reply.h"
#include "protocol/resp_writer.h"

namespace prefixcache::protocol::testing {

// "$<size>\r\n<payload>\r\n": one bulk string on the wire.
inline std::string Bulk(std::string_view payload) {
  // Appends, not operator+: GCC 12 -O3 warns falsely (-Wrestrict) on the chained form.
  std::string out = "$";
  out += std::to_string(payload.size());
  out += "\r\n";
  out.append(payload);
  out += "\r\n";
  return out;
}

// "SET|k|v" for a request, "rejected: <message>" for a rejected one.
inline std::string Describe(const Request& request) {
  if (!request.rejected.empty()) return "rejected: " + request.rejected;
  std::string out;
  for (std::size_t i = 0; i < request.args.size(); ++i) {
    if (i) out += '|';
    out += request.args[i].view();
  }
  return out;
}

// +OK, -ERR x, :42, "bulk", sink, nil, nil*, [a, b].
inline std::string Describe(const Reply& reply) {
  switch (reply.type) {
    case Reply::Type::kSimple:
      return "+" + reply.text;
    case Reply::Type::kError:
      return "-" + reply.text;
    case Reply::Type::kInteger:
      return ":" + std::to_string(reply.integer);
    case Reply::Type::kBulk:
      return reply.in_sink ? std::string("sink") : "\"" + std::string(reply.bulk.view()) + "\"";
    case Reply::Type::kNil:
      return "nil";
    case Reply::Type::kNilArray:
      return "nil*";
    case Reply::Type::kArray: {
      std::string out = "[";
      for (std::size_t i = 0; i < reply.elements.size(); ++i) {
        if (i) out += ", ";
        out += Describe(reply.elements[i]);
      }
      return out + "]";
    }
  }
  return "?";
}

// The result of parsing some input: every request (or reply) described, then the error
// ("error: <message>") if the input was malformed.
template <typename Parser>
std::vector<std::string> Drain(Parser& parser, const Status& status) {
  std::vector<std::string> out;
  if constexpr (requires { parser.HasRequest(); }) {
    while (parser.HasRequest()) out.push_back(Describe(parser.PopRequest()));
  } else {
    while (parser.HasReply()) out.push_back(Describe(parser.PopReply()));
  }
  if (!status.ok()) out.push_back("error: " + status.message());
  return out;
}

// Feeds `input` cut at the given offsets (ascending), draining after each piece.
template <typename Parser>
std::vector<std::string> FeedPieces(Parser& parser, std::string_view input,
                                    const std::vector<std::size_t>& cuts) {
  std::vector<std::string> out;
  std::size_t at = 0;
  Status status;
  for (std::size_t i = 0; i <= cuts.size() && status.ok(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : input.size();
    status = parser.Feed(input.substr(at, to - at));
    at = to;
    for (std::string& s : Drain(parser, Status::Ok())) out.push_back(std::move(s));
  }
  if (!status.ok()) out.push_back("error: " + status.message());
  return out;
}

// The bytes of a SegmentList's (a ReplyBuilder's or CommandBuilder's) segments, concatenated.
template <typename Builder>
std::string Joined(const Builder& builder) {
  std::string out;
  for (const auto& segment : builder.Segments()) {
    out.append(reinterpret_cast<const char*>(segment.data), segment.size);
  }
  return out;
}

}  // namespace prefixcache::protocol::testing
