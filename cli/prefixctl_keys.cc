// The per-key commands (get, put, del, exists) and flush.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <istream>
#include <iterator>
#include <ostream>

#include "cli/prefixctl.h"
#include "cli_util.h"
#include "prefixcache/admin.h"
#include "prefixcache/value_format.h"

namespace prefixcache::cli {
namespace {

// The keys, or nullopt after printing the first that is not one.
std::optional<std::vector<BlockKey>> ParseKeys(const std::vector<std::string>& hexes,
                                               std::ostream& err) {
  std::vector<BlockKey> keys;
  for (const auto& hex : hexes) {
    auto key = ParseKey(hex, err);
    if (!key) return std::nullopt;
    keys.push_back(*key);
  }
  return keys;
}

Json Strings(const std::vector<std::string>& items) {
  Json array = Json::array();
  for (const auto& item : items) array.push_back(item);
  return array;
}

// Deletes from node `holder` the copies it holds of `flushed`'s blocks as a stand-in: raw
// block keys whose replicas on the ring include `flushed` and not `holder`. Named keys
// (GET/SET with a name other than 16 bytes) are routed by whoever wrote them and are left.
// Returns how many were deleted.
Result<std::uint64_t> RemoveStandInCopies(Client& client, const std::string& flushed,
                                          const std::string& holder) {
  constexpr std::size_t kPage = 1000;
  std::uint64_t removed = 0;
  std::string cursor = "0";
  do {
    Result<admin::ScanPage> page = admin::Scan(client, holder, cursor, kPage);
    if (!page.ok()) return page.status();
    std::vector<std::string_view> del = {"DEL"};
    for (const std::string& name : page->keys) {
      const std::optional<BlockKey> key = BlockKey::FromBytes(name);
      if (!key) continue;
      const std::vector<std::string> replicas = admin::NodesFor(client, *key);
      const auto has = [&](const std::string& id) {
        return std::find(replicas.begin(), replicas.end(), id) != replicas.end();
      };
      if (has(flushed) && !has(holder)) del.push_back(name);
    }
    if (del.size() > 1) {
      Result<std::string> deleted = admin::Command(client, holder, del);
      if (!deleted.ok()) return deleted.status();
      removed += std::strtoull(deleted->c_str(), nullptr, 10);
    }
    cursor = std::move(page->cursor);
  } while (cursor != "0");
  return removed;
}

}  // namespace

int Get(const GlobalOptions& options, const std::string& key_hex, const std::string& out_file,
        std::ostream& out, std::ostream& err) {
  auto key = ParseKey(key_hex, err);
  if (!key) return kExitUsage;
  auto client = OpenClient(options, err);
  if (!client) return kExitUsage;
  const auto nodes = admin::NodesFor(*client, *key);
  Json doc = {{"key", key->ToHex()}, {"nodes", Strings(nodes)}};
  if (!options.json) {
    out << "key " << key->ToHex() << " on";
    for (const auto& id : nodes) out << " " << id;
    out << "\n";
  }

  const BlockKey keys[] = {*key};
  auto got = client->Get(keys);
  if (got[0]) {
    const Buffer& payload = *got[0];
    doc["hit"] = true;
    doc["bytes"] = payload.size();
    std::string first;
    for (std::size_t i = 0; i < std::min<std::size_t>(32, payload.size()); ++i) {
      char buf[4];
      std::snprintf(buf, sizeof buf, " %02x", std::to_integer<unsigned>(payload.data()[i]));
      first += buf;
    }
    if (!options.json) {
      out << "hit: " << payload.size() << " bytes, checksum ok\n";
      out << "first bytes:" << first << "\n";
    }
    if (!out_file.empty()) {
      std::ofstream file(out_file, std::ios::binary);
      file.write(reinterpret_cast<const char*>(payload.data()),
                 static_cast<std::streamsize>(payload.size()));
      if (!file) return Fail(err, kExitProblem, "cannot write " + out_file);
      doc["written_to"] = out_file;
      if (!options.json) out << "payload written to " << out_file << "\n";
    }
    if (options.json) PrintJson(out, doc);
    return kExitOk;
  }
  // Not a hit: ask each node directly what it holds, to tell absent from corrupt.
  doc["hit"] = false;
  doc["replicas"] = Json::object();
  for (const auto& id : nodes) {
    const std::string_view cmd[] = {"GET", key->View()};
    auto raw = admin::Command(*client, id, cmd);
    std::string text;
    Json state;
    if (raw.ok()) {
      const auto bytes = std::as_bytes(std::span(raw->data(), raw->size()));
      const bool valid = VerifyStoredValue(*key, bytes).has_value();
      text = "holds " + std::to_string(raw->size()) + " bytes, " +
             (valid ? "valid now (the read raced a write?)"
                    : "CORRUPT: checksum or trailer does not match");
      state = {{"state", valid ? "valid" : "corrupt"}, {"stored_bytes", raw->size()}};
    } else if (raw.status().IsNotFound()) {
      text = "miss (not stored)";
      state = {{"state", "miss"}};
    } else {
      text = raw.status().ToString();
      state = {{"state", "error"}, {"error", text}};
    }
    doc["replicas"][id] = std::move(state);
    if (!options.json) out << id << ": " << text << "\n";
  }
  if (options.json) PrintJson(out, doc);
  return kExitProblem;
}

int Put(const GlobalOptions& options, const std::string& key_hex, const std::string& value_file,
        std::uint32_t depth, std::istream& in, std::ostream& out, std::ostream& err) {
  auto key = ParseKey(key_hex, err);
  if (!key) return kExitUsage;
  std::string value;
  if (value_file == "-") {
    value.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    std::ifstream file(value_file, std::ios::binary);
    if (!file) return Fail(err, kExitUsage, "cannot read " + value_file);
    value.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  auto client = OpenClient(options, err);
  if (!client) return kExitUsage;
  const BlockKey keys[] = {*key};
  const std::span<const std::byte> values[] = {std::as_bytes(std::span(value))};
  const std::uint32_t depths[] = {depth};
  auto put = client->Put(keys, values, depths);
  if (!put.ok()) return Fail(err, kExitProblem, put.status().ToString());
  const bool stored = put->stored == 1;
  const auto nodes = admin::NodesFor(*client, *key);
  if (options.json) {
    PrintJson(out, {{"key", key->ToHex()},
                    {"bytes", value.size()},
                    {"depth", depth},
                    {"stored", stored},
                    {"nodes", Strings(nodes)}});
  } else {
    out << "key " << key->ToHex() << ": " << value.size() << " bytes "
        << (stored ? "stored" : "NOT stored (no replica acknowledged)") << " on";
    for (const auto& id : nodes) out << " " << id;
    out << "\n";
  }
  return stored ? kExitOk : kExitProblem;
}

int Del(const GlobalOptions& options, const std::vector<std::string>& keys_hex, std::ostream& out,
        std::ostream& err) {
  auto keys = ParseKeys(keys_hex, err);
  if (!keys) return kExitUsage;
  auto client = OpenClient(options, err);
  if (!client) return kExitUsage;
  const EraseResult erased = client->Erase(*keys);
  if (options.json) {
    PrintJson(
        out,
        {{"keys", keys->size()}, {"removed", erased.removed}, {"unreachable", erased.unreachable}});
  } else {
    out << "removed " << erased.removed << " stored cop" << (erased.removed == 1 ? "y" : "ies")
        << " of " << keys->size() << " key(s)";
    if (erased.unreachable) {
      out << "; " << erased.unreachable << " key(s) had a replica that did not answer";
    }
    out << "\n";
  }
  return erased.unreachable ? kExitProblem : kExitOk;
}

int Exists(const GlobalOptions& options, const std::vector<std::string>& keys_hex,
           std::ostream& out, std::ostream& err) {
  auto keys = ParseKeys(keys_hex, err);
  if (!keys) return kExitUsage;
  auto client = OpenClient(options, err);
  if (!client) return kExitUsage;
  Json doc = {{"keys", Json::array()}};
  for (const auto& key : *keys) {
    const BlockKey one[] = {key};
    const std::size_t cached = client->Match(one);
    const std::string owner = admin::NodesFor(*client, key).front();
    doc["keys"].push_back({{"key", key.ToHex()}, {"cached", cached == 1}, {"owner", owner}});
    if (!options.json) out << key.ToHex() << " " << cached << " " << owner << "\n";
  }
  const std::size_t run = client->Match(*keys);
  doc["leading_cached_run"] = run;
  if (options.json) {
    PrintJson(out, doc);
  } else {
    out << "leading cached run: " << run << " of " << keys->size() << "\n";
  }
  return kExitOk;
}

int Flush(const GlobalOptions& options, const std::string& node_id, bool yes, std::istream& in,
          std::ostream& out, std::ostream& err) {
  auto client = OpenClient(options, err);
  if (!client) return kExitUsage;
  std::vector<std::string> targets;
  for (const NodeAddress& node : admin::Nodes(*client)) {
    if (node_id.empty() || node.id == node_id) targets.push_back(node.id);
  }
  if (targets.empty()) return Fail(err, kExitUsage, "no node \"" + node_id + "\" in the config");
  if (!yes) {
    err << "prefixctl: remove every block on";
    for (const auto& id : targets) err << " " << id;
    err << "? [y/N] ";
    err.flush();
    std::string answer;
    if (!std::getline(in, answer)) err << "\n";  // end of input: the prompt's line ends here
    if (answer != "y" && answer != "yes") {
      return Fail(err, kExitProblem, "not confirmed: nothing flushed (--yes skips the question)");
    }
  }
  Json doc = {{"flushed", Json::array()}, {"failed", Json::object()}};
  for (const auto& id : targets) {
    const std::string_view cmd[] = {"FLUSHALL"};
    auto flushed = admin::Command(*client, id, cmd);
    if (flushed.ok()) {
      doc["flushed"].push_back(id);
      if (!options.json) out << id << ": flushed\n";
    } else {
      doc["failed"][id] = flushed.status().ToString();
      if (!options.json) out << id << ": " << flushed.status().ToString() << "\n";
    }
  }
  if (!node_id.empty()) {
    doc["stand_in_copies_removed"] = Json::object();
    for (const NodeAddress& node : admin::Nodes(*client)) {
      if (node.id == node_id) continue;
      Result<std::uint64_t> removed = RemoveStandInCopies(*client, node_id, node.id);
      if (removed.ok()) {
        doc["stand_in_copies_removed"][node.id] = *removed;
        if (!options.json && *removed != 0) {
          out << node.id << ": removed " << *removed << " copies of " << node_id
              << "'s blocks held while it was down\n";
        }
      } else {
        const std::string why =
            "copies of " + node_id + "'s blocks not removed: " + removed.status().ToString();
        doc["failed"][node.id] = why;
        if (!options.json) out << node.id << ": " << why << "\n";
      }
    }
  }
  if (options.json) PrintJson(out, doc);
  return doc["failed"].empty() ? kExitOk : kExitProblem;
}

}  // namespace prefixcache::cli
