#include "regcache/store/store_ref.hpp"

namespace regcache {

Result<StoreRef> parse_store_ref(std::string_view ref) {
  StoreRef out;
  if (ref.empty()) return make_error(ErrorKind::usage, "empty --store reference");
  if (ref.rfind("oci:", 0) == 0) {
    out.kind = StoreKind::layout;
    out.path = std::string(ref.substr(4));
    if (out.path.empty()) return make_error(ErrorKind::usage, "oci: store needs a directory path");
    return out;
  }
  auto image = RC_TRY(parse_image_reference(ref, HostRule::required));
  if (!image.tag.empty() || !image.digest.empty()) {
    return make_error(ErrorKind::usage,
                      "--store names a repository, not an image: drop " +
                          (image.tag.empty() ? "@" + image.digest : ":" + image.tag));
  }
  out.kind = StoreKind::registry;
  out.host = image.host;
  out.repository = image.repository;
  return out;
}

}  // namespace regcache
