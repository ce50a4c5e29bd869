// libFuzzer target for the config loader: any text is parsed by ParseConfig without a crash,
// an exception or a hang; a config that parses renders with ToJson to text that parses back
// to the same config and renders to the same text; and SelectNode accepts every node of its
// cluster and refuses an id that is not one. Beside config/ (as protocol/fuzz/ is beside
// protocol/) because it exercises only this library, whose sources it compiles.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "prefixcache/check.h"

namespace cfg = prefixcache::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  prefixcache::Result<cfg::Config> parsed = cfg::ParseConfig(text);
  if (!parsed.ok()) {
    PC_CHECK(parsed.status().code() == prefixcache::StatusCode::kInvalidArgument);
    PC_CHECK(!parsed.status().message().empty());
    return 0;
  }
  const cfg::Config& config = *parsed;
  const std::string json = cfg::ToJson(config);
  prefixcache::Result<cfg::Config> again = cfg::ParseConfig(json);
  PC_CHECK(again.ok() && "ToJson wrote a config ParseConfig refuses");
  PC_CHECK(*again == config && "ToJson did not round-trip");
  PC_CHECK(cfg::ToJson(*again) == json);
  for (const cfg::ClusterNode& node : config.cluster.nodes) {
    cfg::Config copy = config;
    PC_CHECK(cfg::SelectNode(copy, node.id).ok());
    PC_CHECK(copy.node.id == node.id && copy.node.listen == node.address);
    PC_CHECK(cfg::ParseConfig(cfg::ToJson(copy)).ok());
  }
  cfg::Config copy = config;
  PC_CHECK(!cfg::SelectNode(copy, "no such node!").ok());
  PC_CHECK(copy == config);
  return 0;
}
