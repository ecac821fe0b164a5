#include "regcache/format/trust.hpp"

#include "regcache/util/glob.hpp"

namespace regcache {

bool ref_trusted(const std::string& ref, const std::vector<std::string>& patterns) {
  if (ref.empty()) return false;
  for (const auto& p : patterns) {
    if (glob_match(p, ref)) return true;
  }
  return false;
}

}  // namespace regcache
