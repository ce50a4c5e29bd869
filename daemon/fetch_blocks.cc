// CommandEnv::FetchBlocks, the read path of GET, MGET, BLOCK.MGET and BLOCK.MGETPREFIX: the
// reply is made of
// parts, each reserved from the daemon's memory budget before its blocks are taken (a
// memory hit could be evicted while the reply waits to be sent; a spilled block is read
// into memory of its own). A part that fits goes out at once; a reply larger than the
// budget allows, or one that needs disk reads, is streamed in parts of at most
// kFetchPartBytes, the next part taken once the one before has been handed to the socket.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "command_env.h"

namespace prefixcache::daemon {
namespace {

using protocol::MemoryBudget;
using protocol::MemoryCharge;

// A streamed reply takes at most about this many bytes of blocks per part.
constexpr std::uint64_t kFetchPartBytes = 64 * kMiB;
// Framing charged per entry on top of its value ("$<len>\r\n" ... "\r\n").
constexpr std::uint64_t kEntryFramingBytes = 16;

// Consecutive entries of the reply, with the budget they hold.
struct Part {
  bool header = false;  // the reply's array header comes first
  std::vector<std::optional<Buffer>> entries;
  MemoryCharge charge;
};

class FetchStream : public std::enable_shared_from_this<FetchStream> {
 public:
  FetchStream(CommandEnv& env, MemoryBudget& budget, std::vector<BlockKey> keys,
              CommandEnv::FetchReply reply)
      : env_(env),
        budget_(budget),
        keys_(std::move(keys)),
        single_(reply == CommandEnv::FetchReply::kSingle),
        prefix_(reply == CommandEnv::FetchReply::kPrefix),
        force_(CommandEnv::in_transaction) {}

  // Why Fill() stopped.
  enum class Stop : std::uint8_t { kDone, kFull, kNeedsDisk, kBudget };

  // Appends the next entries to `part` while they fit in kFetchPartBytes and the budget
  // grants them; reads spilled blocks only when `may_read_disk`.
  Stop Fill(Part& part, bool may_read_disk) {
    part.header = !single_ && !header_sent_;
    header_sent_ = true;
    std::uint64_t bytes = 0;
    while (next_ < keys_.size()) {
      if (bytes >= kFetchPartBytes) return Stop::kFull;
      // The first large entry of a part is an admission (it leaves the budget's headroom
      // free for small requests); those after it join a part already granted.
      auto large = [&](std::uint64_t used) {
        return part.entries.empty() && used >= protocol::RequestParser::kDirectBulkBytes;
      };
      if (missed_) {
        // BLOCK.MGETPREFIX past its first miss: nil, not looked up.
        if (!Reserve(part.charge, kEntryFramingBytes, false)) return Stop::kBudget;
        bytes += kEntryFramingBytes;
        part.entries.emplace_back(std::nullopt);
        ++next_;
        continue;
      }
      const BlockKey& key = keys_[next_];
      Result<Buffer> value = env_.store.GetFromMemory(key);
      if (!value.ok() && env_.store.Contains(key)) {
        if (!may_read_disk) return Stop::kNeedsDisk;
        // The block's size is known only once read: reserve the largest a block can be (at
        // most half the budget, so that the reservation can always be granted; a block
        // larger than that is counted in full once read).
        std::uint64_t bound = env_.store.LargestStorableValue() + kEntryFramingBytes;
        if (budget_.limit() != 0) bound = std::min(bound, budget_.limit() / 2);
        MemoryCharge read;
        if (!Reserve(read, bound, large(bound))) return Stop::kBudget;
        value = env_.store.Get(key);
        const std::uint64_t used = kEntryFramingBytes + (value.ok() ? value->size() : 0);
        if (used > read.bytes()) read.Force(budget_, used - read.bytes());
        read.ShrinkTo(used);
        part.charge.Absorb(std::move(read));
        bytes += used;
      } else {
        const std::uint64_t used = kEntryFramingBytes + (value.ok() ? value->size() : 0);
        // As for a disk read, at most half the budget is waited for; the rest is counted.
        const std::uint64_t wait_for =
            budget_.limit() == 0 ? used : std::min(used, budget_.limit() / 2);
        if (!Reserve(part.charge, wait_for, large(wait_for))) return Stop::kBudget;
        if (used > wait_for) part.charge.Force(budget_, used - wait_for);
        bytes += used;
      }
      if (value.ok()) {
        ++hits_;
        part.entries.emplace_back(std::move(value).value());
      } else {
        part.entries.emplace_back(std::nullopt);
        missed_ = prefix_;
      }
      ++next_;
    }
    env_.stats.keyspace_hits.Add(hits_);
    // A prefix read looks up no key after its first miss.
    env_.stats.keyspace_misses.Add(prefix_ ? (hits_ < keys_.size() ? 1 : 0) : keys_.size() - hits_);
    return Stop::kDone;
  }

  static void Write(const Part& part, std::size_t count, protocol::ReplyBuilder& out) {
    if (part.header) out.ArrayHeader(count);
    for (const auto& entry : part.entries) {
      if (entry) {
        out.Bulk(*entry);
      } else {
        out.Nil();
      }
    }
  }

  // The first part, on the I/O thread: memory hits as far as they go. Defers the rest.
  // Inside EXEC (already on a worker, as one step): every part at once.
  void Start(CommandContext& ctx) {
    if (force_) {
      Stop stop;
      do {
        Part part;
        stop = Fill(part, /*may_read_disk=*/true);
        Write(part, keys_.size(), ctx.reply());
        ctx.HoldUntilSent(std::move(part.charge));
      } while (stop != Stop::kDone);
      return;
    }
    const std::uint64_t epoch = budget_.epoch();
    Part part;
    const Stop stop = Fill(part, /*may_read_disk=*/false);
    Write(part, keys_.size(), ctx.reply());
    ctx.HoldUntilSent(std::move(part.charge));
    if (stop == Stop::kDone) return;
    if (env_.shut_down.load(std::memory_order_relaxed)) {
      // Nothing of the reply may be cut short after its start: the rest are misses.
      return Finish(ctx.reply());
    }
    env_.stats.deferred_commands.Add(1);
    done_ = ctx.Defer();
    if (stop == Stop::kBudget) {
      done_.Continue(nullptr, {}, Continuation{Resumer(), true, epoch});
    } else {
      Post();
    }
  }

 private:
  // Reserves `bytes` for `charge`; inside EXEC counts them instead (a transaction cannot
  // wait for other connections' replies while it keeps them from running).
  bool Reserve(MemoryCharge& charge, std::uint64_t bytes, bool large) {
    if (!force_) return charge.TryAdd(budget_, bytes, large);
    charge.Force(budget_, bytes);
    return true;
  }

  // The rest of the entries as misses (the daemon is shutting down).
  void Finish(protocol::ReplyBuilder& out) {
    for (; next_ < keys_.size(); ++next_) out.Nil();
  }

  std::function<void()> Resumer() {
    return [self = shared_from_this()] { self->Post(); };
  }

  // The next part on a worker (disk reads never run on an I/O thread).
  void Post() {
    if (env_.shut_down.load(std::memory_order_relaxed)) {
      auto self = shared_from_this();
      return done_([self](protocol::ReplyBuilder& out) { self->Finish(out); });
    }
    boost::asio::post(env_.workers, [self = shared_from_this()] { self->Step(); });
  }

  void Step() {
    const std::uint64_t epoch = budget_.epoch();
    auto part = std::make_shared<Part>();
    env_.gate.Enter();
    const Stop stop = Fill(*part, /*may_read_disk=*/true);
    env_.gate.Leave();
    MemoryCharge charge = std::move(part->charge);
    const std::size_t count = keys_.size();
    ReplyWriter writer = [part, count](protocol::ReplyBuilder& out) { Write(*part, count, out); };
    if (stop == Stop::kDone) return done_(std::move(writer), std::move(charge));
    const bool wait = stop == Stop::kBudget && part->entries.empty();
    done_.Continue(std::move(writer), std::move(charge), Continuation{Resumer(), wait, epoch});
  }

  CommandEnv& env_;
  MemoryBudget& budget_;
  const std::vector<BlockKey> keys_;
  const bool single_;
  const bool prefix_;     // BLOCK.MGETPREFIX: every entry after the first miss is nil
  const bool force_;      // inside EXEC: all parts at once, memory counted (Reserve)
  bool missed_ = false;   // a prefix read has met its first miss
  std::size_t next_ = 0;  // the first entry not yet in a part
  bool header_sent_ = false;
  std::uint64_t hits_ = 0;
  Completion done_;
};

}  // namespace

void CommandEnv::FetchBlocks(std::vector<BlockKey> keys, FetchReply reply, CommandContext& ctx) {
  CheckOwnership(keys);
  auto stream = std::make_shared<FetchStream>(*this, ctx.memory(), std::move(keys), reply);
  stream->Start(ctx);
}

}  // namespace prefixcache::daemon
