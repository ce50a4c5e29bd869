#include "config/fields.h"

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "keys.h"
#include "prefixcache/check.h"

namespace prefixcache::config {

std::vector<Field> ConfigFields() {
  using Json = nlohmann::ordered_json;
  // The defaults as ToJson renders them, so sizes read as they are written ("1GiB"). The
  // entry of cluster.nodes is a default ClusterNode, whose empty metrics_address ToJson
  // leaves out.
  Config with_node = DefaultConfig();
  with_node.cluster.nodes.push_back(ClusterNode{});
  const Json rendered = Json::parse(ToJson(with_node));
  Json node_defaults = rendered["cluster"]["nodes"][0];
  node_defaults["metrics_address"] = ClusterNode{}.metrics_address;
  const Json defaults = Json::parse(ToJson(DefaultConfig()));

  std::vector<Field> fields;
  for (const KeySpec& spec : kKeys) {
    Field field;
    field.path = std::string(spec.section) + "." + std::string(spec.key);
    field.type = std::string(spec.type);
    field.required = spec.required;
    if (!spec.required) {
      // ToJson writes every section and key of the table.
      const Json* section = &node_defaults;
      if (spec.section != "cluster.nodes[]") {
        const auto it = defaults.find(std::string(spec.section));
        PC_CHECK(it != defaults.end());
        section = &*it;
      }
      const auto value = section->find(std::string(spec.key));
      PC_CHECK(value != section->end());
      field.default_json = value->dump();
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

}  // namespace prefixcache::config
