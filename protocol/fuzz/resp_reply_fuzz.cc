// libFuzzer target for ReplyParser. Each input is parsed whole, split into pieces of varying
// size, and fed again through scatter lists with a bulk sink taking some payloads into
// separate memory in one to three parts; all three must agree (the sunk payloads byte for
// byte, the sink told of every byte). Every reply re-encoded with ReplyBuilder must parse
// back to itself.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "prefixcache/check.h"
#include "protocol/resp_reply.h"
#include "protocol/resp_writer.h"

namespace prefixcache::protocol {
namespace {

using Outcome = fuzz::Outcome<Reply>;

// Small limits so that fuzz inputs reach them.
constexpr ReplyLimits kFuzzLimits{
    .max_bulk_bytes = 40000, .max_elements = 64, .max_depth = 6, .max_line_bytes = 256};

// Payloads the sink took, in the order it was asked.
struct Sunk {
  std::uint64_t reply;
  std::size_t index;
  std::vector<std::byte> bytes;
  std::vector<std::span<std::byte>> parts;  // views of `bytes`, some of them empty
  std::size_t arrived = 0;                  // what Arrived() last said
};

// Takes the payloads whose (index + size) is not a multiple of 3, split in up to three parts.
class FuzzSink final : public BulkSink {
 public:
  FuzzSink(const ReplyParser& parser, std::deque<Sunk>& sunk) : parser_(parser), sunk_(sunk) {}
  ~FuzzSink() override {
    // A payload still being received is the only one that may not have fully arrived.
    for (std::size_t i = 0; i + 1 < sunk_.size(); ++i) {
      PC_CHECK(sunk_[i].arrived == sunk_[i].bytes.size());
    }
  }

  std::span<const std::span<std::byte>> Parts(std::size_t index, std::size_t size) override {
    if (size == 0 || (index + size) % 3 == 0) return {};
    if (!sunk_.empty()) PC_CHECK(sunk_.back().arrived == sunk_.back().bytes.size());
    sunk_.push_back(Sunk{parser_.CompletedReplies(), index, std::vector<std::byte>(size), {}, 0});
    Sunk& s = sunk_.back();
    const std::span<std::byte> all(s.bytes);
    const std::size_t cut1 = (index * 7 + size) % (size + 1);
    const std::size_t cut2 = cut1 + (size - cut1) / 2;
    s.parts = {all.first(cut1), all.subspan(cut1, 0), all.subspan(cut1, cut2 - cut1),
               all.subspan(cut2)};
    return s.parts;
  }
  void Arrived(std::size_t filled) override {
    Sunk& s = sunk_.back();
    PC_CHECK(filled > s.arrived && filled <= s.bytes.size());
    s.arrived = filled;
  }

 private:
  const ReplyParser& parser_;
  std::deque<Sunk>& sunk_;
};

Outcome Parse(std::string_view input, const ReplyLimits& limits, std::uint64_t seed, bool whole,
              std::deque<Sunk>* sunk) {
  ReplyParser parser(limits);
  Outcome out;
  auto drained = [&](std::size_t) {
    while (parser.HasReply()) out.parsed.push_back(parser.PopReply());
  };
  if (sunk != nullptr) {
    FuzzSink sink(parser, *sunk);
    parser.SetBulkSink(&sink);
    out.error = fuzz::FeedScattered(parser, input, seed, drained);
    parser.SetBulkSink(nullptr);
  } else {
    out.error = fuzz::FeedInPieces(parser, input, seed, whole, drained);
  }
  PC_CHECK(parser.CompletedReplies() == out.parsed.size());
  return out;
}

// Whether `got` equals `want`, where elements the sink took are compared with the next
// payloads in `sunk` (then consumed).
bool Matches(const Reply& got, const Reply& want, std::uint64_t reply, std::size_t depth,
             std::size_t index, std::deque<Sunk>* sunk) {
  if (got.in_sink) {
    if (sunk == nullptr || sunk->empty() || want.type != Reply::Type::kBulk || depth > 1) {
      return false;
    }
    const Sunk& s = sunk->front();
    const bool same = s.reply == reply && s.index == index && got.type == Reply::Type::kBulk &&
                      got.bulk.empty() &&
                      std::string_view(reinterpret_cast<const char*>(s.bytes.data()),
                                       s.bytes.size()) == want.bulk.view();
    sunk->pop_front();
    return same;
  }
  if (got.type != want.type || got.text != want.text || got.integer != want.integer ||
      got.bulk.view() != want.bulk.view() || got.elements.size() != want.elements.size()) {
    return false;
  }
  for (std::size_t i = 0; i < got.elements.size(); ++i) {
    if (!Matches(got.elements[i], want.elements[i], reply, depth + 1, i, sunk)) return false;
  }
  return true;
}

void Encode(const Reply& reply, ReplyBuilder& builder) {
  switch (reply.type) {
    case Reply::Type::kSimple:
      builder.SimpleString(reply.text);
      break;
    case Reply::Type::kError:
      builder.Error(reply.text);
      break;
    case Reply::Type::kInteger:
      builder.Integer(reply.integer);
      break;
    case Reply::Type::kBulk:
      builder.Bulk(reply.bulk);
      break;
    case Reply::Type::kNil:
      builder.Nil();
      break;
    case Reply::Type::kNilArray:
      builder.NilArray();
      break;
    case Reply::Type::kArray:
      builder.ArrayHeader(reply.elements.size());
      for (const Reply& element : reply.elements) Encode(element, builder);
      break;
  }
}

// ReplyBuilder writes a line break inside a status or error line as a space.
Reply Normalized(Reply reply) {
  for (char& c : reply.text) {
    if (c == '\n') c = ' ';
  }
  for (Reply& element : reply.elements) element = Normalized(std::move(element));
  return reply;
}

void FuzzOne(std::string_view input) {
  const ReplyLimits limits = kFuzzLimits;
  const std::uint64_t seed = fuzz::SeedOf(input);

  const Outcome whole = Parse(input, limits, seed, true, nullptr);
  for (const Reply& reply : whole.parsed) PC_CHECK(!reply.in_sink);

  const Outcome pieces = Parse(input, limits, seed, false, nullptr);
  PC_CHECK(pieces.error == whole.error);
  PC_CHECK(pieces.parsed == whole.parsed);

  std::deque<Sunk> sunk;
  const Outcome sinked = Parse(input, limits, seed + 1, false, &sunk);
  PC_CHECK(sinked.error == whole.error);
  PC_CHECK(sinked.parsed.size() == whole.parsed.size());
  for (std::size_t i = 0; i < whole.parsed.size(); ++i) {
    PC_CHECK(Matches(sinked.parsed[i], whole.parsed[i], i, 0, 0, &sunk));
  }
  // Payloads sunk for an unfinished reply are the only ones left over.
  for (const Sunk& s : sunk) PC_CHECK(s.reply == whole.parsed.size());

  ReplyBuilder builder;
  for (const Reply& reply : whole.parsed) Encode(reply, builder);
  std::string encoded;
  for (const auto& segment : builder.Segments()) {
    encoded.append(reinterpret_cast<const char*>(segment.data), segment.size);
  }
  PC_CHECK(encoded.size() == builder.TotalBytes());
  ReplyLimits roomy = limits;
  roomy.max_line_bytes = 1 << 20;
  const Outcome again = Parse(encoded, roomy, seed, false, nullptr);
  PC_CHECK(again.error.empty());
  PC_CHECK(again.parsed.size() == whole.parsed.size());
  for (std::size_t i = 0; i < whole.parsed.size(); ++i) {
    PC_CHECK(again.parsed[i] == Normalized(whole.parsed[i]));
  }
}

}  // namespace
}  // namespace prefixcache::protocol

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  prefixcache::protocol::FuzzOne(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
