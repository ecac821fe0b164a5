// Reading a blob as nothing but what its descriptor promises: its size is checked while it
// streams (not a byte past it reaches `out`) and its digest at the end. Every reader of a
// blob (restore's layers and config, a save's base config, the migration of 2021 images)
// goes through here.
#pragma once

#include "regcache/oci/descriptor.hpp"
#include "regcache/store/store.hpp"
#include "regcache/util/progress_counter.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

// Streams the blob into out. A transport failure is returned as the store gave it; a size
// or digest mismatch is an ErrorKind::integrity error naming the blob (after a digest
// mismatch the store is told, Store::drop_damaged). `out` should not
// stop the stream on bad content (wrap it in StopOnError) so that a corrupt blob reads as a
// digest mismatch rather than as whatever the consumer tripped over first.
Status fetch_verified(Store& store, const Descriptor& blob, Sink* out,
                      ProgressCounter* progress = nullptr);

}  // namespace regcache
