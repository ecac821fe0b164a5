// A Store held in memory: blobs, manifests and tags in maps, safe to share between
// threads. It stands for an absent local layout (a read-only command sees an empty store
// and creates nothing) and is the store the pipelines' unit tests run against.
#pragma once

#include <memory>
#include <string>

#include "regcache/store/store.hpp"

namespace regcache {

// Returns an empty in-memory store that describes itself as `description`, stages uploads
// in `staging_dir` and states `properties` (as the store it stands for would).
std::unique_ptr<Store> make_memory_store(std::string description = "memory",
                                         std::string staging_dir = "/tmp",
                                         StoreProperties properties = {});

}  // namespace regcache
