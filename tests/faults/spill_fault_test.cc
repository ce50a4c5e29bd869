// The spill tier's disk failing under a real prefixcached: a file size limit (RLIMIT_FSIZE,
// set on the running daemon with prlimit, no privileges needed) standing in for a full disk,
// and segment files damaged while the daemon is stopped. The daemon keeps serving from
// memory, says so once in its log, shows the condition in INFO, /metrics and /readyz,
// never returns a wrong block, and writes to disk again once space returns. Waits are for
// the daemon's own counters; bounds only guard against hangs.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "daemon_test_util.h"

namespace prefixcache::testing {
namespace {

constexpr std::size_t kValueBytes = 16 * 1024;

std::string ValueOf(int i) {
  std::string value(kValueBytes, '\0');
  for (std::size_t j = 0; j < value.size(); ++j) {
    value[j] = static_cast<char>((i * 131 + j * 7 + j / 251) & 0xff);
  }
  return value;
}

std::string KeyOf(int i) { return "block:" + std::to_string(i); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t CountOf(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// SETs keys [from, to); every reply must be +OK.
void SetRange(RespClient& client, int from, int to) {
  for (int i = from; i < to; ++i) {
    Reply reply = client.Call({"SET", KeyOf(i), ValueOf(i)});
    INFO("SET " << KeyOf(i) << " -> " << Describe(reply));
    REQUIRE(reply.type == Reply::Type::kSimple);
  }
}

struct ReadBack {
  int exact = 0;
  int missing = 0;
  int wrong = 0;  // a bulk other than the value SET, or an error reply
};

ReadBack GetRange(RespClient& client, int from, int to) {
  ReadBack seen;
  for (int i = from; i < to; ++i) {
    Reply reply = client.Call({"GET", KeyOf(i)});
    if (reply.type == Reply::Type::kNil) {
      ++seen.missing;
    } else if (reply.type == Reply::Type::kBulk && reply.bulk.view() == ValueOf(i)) {
      ++seen.exact;
    } else {
      ++seen.wrong;
    }
  }
  return seen;
}

std::uint64_t InfoNumber(RespClient& client, const std::string& section, const std::string& field) {
  const std::string text = InfoField(client, section, field);
  return text.empty() ? 0 : std::stoull(text);
}

std::vector<std::string> DaemonArgs(TestNode& node) {
  std::vector<std::string> args = node.Config(R"({"spill": {"capacity": "32MiB"}})");
  args.insert(args.end(), {"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                           "--spill-path", node.spill(), "--memory-capacity", "1MiB"});
  return args;
}

TEST_CASE("faults: a full spill disk: served from memory, reported, recovered when space returns",
          "[integration]") {
  REQUIRE(HaveProgram("prlimit"));
  TestNode node("spill-full");
  MetricsDaemon daemon;
  REQUIRE(daemon.Start(DaemonArgs(node)));
  RespClient client(daemon.port());
  REQUIRE(client.connected());
  SetRange(client, 0, 200);  // 3 MiB into 1 MiB of memory: demotions start
  REQUIRE(Eventually([&] { return InfoNumber(client, "spill_tier", "spill_tier_demotions") > 0; },
                     kGenerousBound));

  // No file of the daemon's may grow past 64 KiB from now on: the 2 MiB segments cannot.
  const std::string pid = std::to_string(daemon.pid());
  REQUIRE(RunCaptured({"prlimit", "--pid", pid, "--fsize=65536:unlimited"}).exit_code == 0);
  // While the limit holds, the tier fails at its next write, reopens its folder after a
  // backoff (1 s, then 2 s, 4 s...) and fails again at the write after: demotions go on
  // until each sign of the failure has been seen.
  int next = 200;
  auto demote_more = [&] {
    SetRange(client, next, next + 10);
    next += 10;
  };
  REQUIRE(Eventually(
      [&] {
        demote_more();
        return InfoField(client, "spill_tier", "spill_tier_healthy") == "0" &&
               !InfoField(client, "spill_tier", "spill_tier_error").empty();
      },
      kGenerousBound));
  CHECK(Eventually(
      [&] {
        demote_more();
        std::string status;
        return HttpGet(daemon.metrics_port(), "/metrics", &status)
                   .find("prefixcache_spill_healthy 0") != std::string::npos;
      },
      kGenerousBound));
  CHECK(Eventually(
      [&] {
        demote_more();
        std::string status;
        (void)HttpGet(daemon.metrics_port(), "/readyz", &status);
        return status.find("503") != std::string::npos;
      },
      kGenerousBound));
  // Still serving: new blocks are stored and read back from memory, none wrong.
  demote_more();
  ReadBack during = GetRange(client, 0, next);
  INFO("during: " << during.exact << " exact, " << during.missing << " missing, " << during.wrong
                  << " wrong");
  CHECK(during.wrong == 0);
  CHECK(during.exact > 0);
  const std::string log = ReadFile(daemon.err_path());
  INFO(log);
  // One line per failure: a reopen that a still-full disk fails again logs its own.
  CHECK(CountOf(log, "spill writes stop") >= 1);

  // Space returns: the tier reopens its folder and demotes again.
  REQUIRE(RunCaptured({"prlimit", "--pid", pid, "--fsize=unlimited:unlimited"}).exit_code == 0);
  // A reopen with the limit still set fails at the next write; wait for one that stays.
  REQUIRE(Eventually(
      [&] {
        demote_more();  // so that a reopened tier writes
        return InfoField(client, "spill_tier", "spill_tier_healthy") == "1" &&
               InfoNumber(client, "spill_tier", "spill_tier_reopens") >= 1;
      },
      std::chrono::seconds(120)));
  const std::uint64_t demotions = InfoNumber(client, "spill_tier", "spill_tier_demotions");
  SetRange(client, next, next + 200);
  next += 200;
  CHECK(Eventually(
      [&] { return InfoNumber(client, "spill_tier", "spill_tier_demotions") > demotions; },
      kGenerousBound));
  CHECK(InfoField(client, "spill_tier", "spill_tier_healthy") == "1");
  ReadBack after = GetRange(client, 0, next);
  CHECK(after.wrong == 0);
  CHECK(ReadFile(daemon.err_path()).find("reopened, writing again") != std::string::npos);
  CHECK(ExitedCleanly(daemon.Stop()));
}

TEST_CASE("faults: spill segment files damaged while the daemon is stopped: no wrong block",
          "[integration]") {
  TestNode node("spill-damaged");
  {
    MetricsDaemon daemon;
    REQUIRE(daemon.Start(DaemonArgs(node)));
    RespClient client(daemon.port());
    SetRange(client, 0, 400);  // 6 MiB: several segments on disk after the shutdown
    REQUIRE(ExitedCleanly(daemon.Stop()));
  }
  // Every byte of the middle half of each segment file (the largest table files) inverted.
  std::vector<std::filesystem::path> tables;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(node.spill())) {
    if (entry.path().extension() == ".sst") tables.push_back(entry.path());
  }
  std::sort(tables.begin(), tables.end(), [](const auto& a, const auto& b) {
    return std::filesystem::file_size(a) > std::filesystem::file_size(b);
  });
  REQUIRE(tables.size() >= 2);
  int damaged = 0;
  for (const auto& path : tables) {
    const std::uintmax_t size = std::filesystem::file_size(path);
    if (size < 1024 * 1024) break;  // the records' tables, not segments
    std::string bytes = ReadFile(path.string());
    for (std::size_t at = bytes.size() / 4; at < bytes.size() * 3 / 4; ++at) {
      bytes[at] = static_cast<char>(~bytes[at]);
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    ++damaged;
  }
  REQUIRE(damaged >= 1);

  MetricsDaemon daemon;
  REQUIRE(daemon.Start(DaemonArgs(node)));
  RespClient client(daemon.port());
  ReadBack seen = GetRange(client, 0, 400);
  INFO(seen.exact << " exact, " << seen.missing << " missing, " << seen.wrong << " wrong");
  CHECK(seen.wrong == 0);
  CHECK(seen.missing > 0);
  const std::uint64_t failures = InfoNumber(client, "spill_tier", "spill_tier_checksum_failures");
  const std::string log = ReadFile(daemon.err_path());
  INFO(log);
  // Found on read (counted, logged), or the whole folder refused at open (logged once).
  CHECK((failures > 0 || log.find("discarded") != std::string::npos));
  if (failures > 0) CHECK(log.find("failed verification") != std::string::npos);
  // Still serving, and writing.
  SetRange(client, 1000, 1100);
  ReadBack fresh = GetRange(client, 1000, 1100);
  CHECK(fresh.wrong == 0);
  CHECK(fresh.exact > 0);
  CHECK(InfoField(client, "spill_tier", "spill_tier_healthy") == "1");
  CHECK(ExitedCleanly(daemon.Stop()));
}

}  // namespace
}  // namespace prefixcache::testing
