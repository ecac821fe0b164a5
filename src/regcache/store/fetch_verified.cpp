#include "regcache/store/fetch_verified.hpp"

#include "regcache/util/interrupt.hpp"

namespace regcache {

Status fetch_verified(Store& store, const Descriptor& d, Sink* out, ProgressCounter* progress) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::integrity, "blob " + d.digest + ": " + why);
  };
  HashingSink hash(out);
  LimitSink limit(&hash, d.size, "the blob");
  ProgressSink counted(&limit, progress);
  InterruptibleSink interruptible(&counted);
  Status st = store.get_blob(d, &interruptible);
  if (!st.ok() && st.error().kind != ErrorKind::integrity) return st;  // transport, not content
  if (!st.ok()) return bad(st.error().message);
  if (hash.bytes() != d.size)
    return bad("size does not match the manifest (" + std::to_string(d.size) + " bytes declared)");
  if (hash.digest() != d.digest) {
    if (store.drop_damaged(d))
      return bad("content does not match its digest (the damaged copy is removed from " +
                 store.describe() + "; the next save of it writes it again)");
    return bad("content does not match its digest");
  }
  return {};
}

}  // namespace regcache
