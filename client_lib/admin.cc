#include "prefixcache/admin.h"

#include <new>
#include <optional>

#include "client_impl.h"
#include "client_internals.h"

namespace prefixcache::admin {
namespace {

using client::ClientInternals;

// redis-cli's rendering of an array element.
void Render(const protocol::Reply& reply, std::string& out, const std::string& indent) {
  using Type = protocol::Reply::Type;
  switch (reply.type) {
    case Type::kSimple:
      out += reply.text;
      break;
    case Type::kError:
      out += "(error) " + reply.text;
      break;
    case Type::kInteger:
      out += "(integer) " + std::to_string(reply.integer);
      break;
    case Type::kBulk:
      out += '"';
      out += reply.bulk.view();
      out += '"';
      break;
    case Type::kNil:
    case Type::kNilArray:
      out += "(nil)";
      break;
    case Type::kArray:
      if (reply.elements.empty()) out += "(empty array)";
      for (std::size_t i = 0; i < reply.elements.size(); ++i) {
        if (i) out += "\n" + indent;
        std::string label = std::to_string(i + 1) + ") ";
        out += label;
        Render(reply.elements[i], out, indent + std::string(label.size(), ' '));
      }
      break;
  }
}

Result<std::string> ToResult(const protocol::Reply& reply) {
  using Type = protocol::Reply::Type;
  switch (reply.type) {
    case Type::kError:
      return Status::Rejected(reply.text);
    case Type::kNil:
    case Type::kNilArray:
      return Status::NotFound("nil");
    case Type::kBulk:
      return std::string(reply.bulk.view());
    case Type::kInteger:
      return std::to_string(reply.integer);
    default: {
      std::string out;
      Render(reply, out, "");
      return out;
    }
  }
}

// SCAN's reply, [cursor, [key...]], as a page.
Result<ScanPage> ToScanPage(const protocol::Reply& reply) {
  using Type = protocol::Reply::Type;
  if (reply.type == Type::kError) return Status::Rejected(reply.text);
  if (reply.type != Type::kArray || reply.elements.size() != 2 ||
      reply.elements[0].type != Type::kBulk || reply.elements[1].type != Type::kArray) {
    return Status::Rejected("SCAN: the reply is not [cursor, [key...]]");
  }
  ScanPage page;
  page.cursor = std::string(reply.elements[0].bulk.view());
  for (const protocol::Reply& key : reply.elements[1].elements) {
    if (key.type != Type::kBulk) return Status::Rejected("SCAN: a key that is not a bulk string");
    page.keys.emplace_back(key.bulk.view());
  }
  return page;
}

// Sends `args` to the node named `node_id` and waits for the reply, which `take` turns into
// the result while the reply is alive.
template <typename T, typename Take>
Result<T> Send(Client& client, std::string_view node_id, std::span<const std::string_view> args,
               Take take) {
  if (args.empty()) return Status::InvalidArgument("empty command");
  client::ClientImpl& impl = ClientInternals::Impl(client);
  try {
    std::shared_ptr<const client::Topology> topology = impl.topology();
    std::optional<std::size_t> index = topology->ring.IndexOf(node_id);
    if (!index) return Status::NotFound("no node \"" + std::string(node_id) + "\"");
    client::Node& node = *topology->nodes[*index];

    auto request = std::make_shared<client::Request>();
    request->command.Command(args);
    request->deadline = impl.Deadline(client::Clock::now());
    client::Waiter waiter;
    Result<T> result = Status::Unavailable("no reply");
    request->done = [&](const Status& status, protocol::Reply* reply) {
      result = status.ok() ? take(*reply) : Result<T>(status);
      waiter.Done();
    };
    waiter.Add(1);
    node.Pick(node.NextBase()).Submit(std::move(request));
    waiter.Wait();
    return result;
  } catch (const std::bad_alloc&) {
    return Status::Rejected("out of memory");
  }
}

}  // namespace

Result<std::string> Command(Client& client, std::string_view node_id,
                            std::span<const std::string_view> args) {
  return Send<std::string>(client, node_id, args,
                           [](const protocol::Reply& reply) { return ToResult(reply); });
}

Result<ScanPage> Scan(Client& client, std::string_view node_id, std::string_view cursor,
                      std::size_t count) {
  const std::string count_text = std::to_string(count);
  const std::string_view args[] = {"SCAN", cursor, "COUNT", count_text};
  return Send<ScanPage>(client, node_id, args, ToScanPage);
}

std::string RingJson(const Client& client) {
  return ClientInternals::Impl(client).topology()->ring.ToJson();
}

std::uint64_t RingFingerprint(const Client& client) {
  return ClientInternals::Impl(client).topology()->ring.Fingerprint();
}

std::vector<NodeAddress> Nodes(const Client& client) {
  std::vector<NodeAddress> out;
  for (const auto& spec : ClientInternals::Impl(client).topology()->ring.nodes()) {
    out.push_back({spec.id, spec.address, spec.weight});
  }
  return out;
}

std::vector<std::string> NodesFor(const Client& client, const BlockKey& key) {
  std::shared_ptr<const client::Topology> topology = ClientInternals::Impl(client).topology();
  std::vector<std::string> out;
  for (std::size_t node : topology->ring.Replicas(key)) {
    out.push_back(topology->ring.nodes()[node].id);
  }
  return out;
}

}  // namespace prefixcache::admin
