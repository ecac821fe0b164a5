// A store whose writes wait for a decision taken beside them: a save reads, walks and
// compresses while it asks whether its key is saved already, and writes only once told.
#pragma once

#include <future>
#include <memory>

#include "regcache/store/store.hpp"

namespace regcache {

// Returns a store that forwards to `inner` (which must outlive it), except that every
// write (put_blob, link_blob, put_manifest, delete_manifest) first waits for `gate` and
// fails with its error when it is one. Reads go at once. usage() is forwarded ungated.
std::unique_ptr<Store> make_gated_store(Store& inner, std::shared_future<Status> gate);

}  // namespace regcache
