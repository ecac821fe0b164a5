#include "regcache/format/descriptor_json.hpp"

namespace regcache {

nlohmann::json descriptor_json(const Descriptor& d) {
  nlohmann::json j = {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  return j;
}

}  // namespace regcache
