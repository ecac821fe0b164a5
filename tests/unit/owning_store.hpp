// The base of test decorators that own the store they forward to (made before they are).
#pragma once

#include <memory>
#include <utility>

#include "regcache/store/forwarding_store.hpp"

namespace regcache::testing {

struct StoreOwner {
  std::unique_ptr<Store> owned;
};

// Forwards everything to `store`, which it keeps.
class OwningForwardingStore : private StoreOwner, public ForwardingStore {
 public:
  explicit OwningForwardingStore(std::unique_ptr<Store> store)
      : StoreOwner{std::move(store)}, ForwardingStore(*owned) {}
};

}  // namespace regcache::testing
