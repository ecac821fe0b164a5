#include "regcache/store/tiered/copy_checks.hpp"

#include <system_error>

#include "regcache/util/guarded.hpp"

namespace regcache {

struct CopyChecks::Entry {
  std::once_flag once;
  LocalCopy found = LocalCopy::absent;
};

CopyChecks::~CopyChecks() {
  stop_ = true;
  if (ahead_.joinable()) ahead_.join();
}

void CopyChecks::check_ahead(ListFn list) {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  try {
    ahead_ = std::thread([this, list = std::move(list)] {
      // A check that throws is made again by its reader, which gets the exception; the
      // others go on.
      std::vector<Descriptor> blobs;
      (void)guarded([&]() -> Status {
        blobs = list();
        return {};
      });
      for (const auto& d : blobs) {
        if (stop_) break;
        (void)guarded([&]() -> Status {
          check(d);
          return {};
        });
      }
    });
  } catch (const std::system_error&) {
    // No thread: each copy is checked when it is read, as without checks ahead.
  }
}

LocalCopy CopyChecks::check(const Descriptor& d) {
  auto e = entry(d);
  std::call_once(e->once, [&] { e->found = check_(d, stop_); });
  return e->found;
}

std::shared_ptr<CopyChecks::Entry> CopyChecks::entry(const Descriptor& d) {
  std::lock_guard lock(mu_);
  auto& e = entries_[d.digest + " " + std::to_string(d.size)];
  if (!e) e = std::make_shared<Entry>();
  return e;
}

}  // namespace regcache
