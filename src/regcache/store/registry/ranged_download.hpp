// Downloads a blob as byte ranges fetched in parallel and written in order: what a
// single TCP stream cannot move over a distant link, several can.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "regcache/util/result.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

struct RangePlan {
  uint64_t from = 0;   // the first byte to fetch
  uint64_t size = 0;   // the blob's size: ranges run from `from` to here
  uint64_t chunk = 0;  // bytes per range (the last may be shorter)
  size_t window = 1;   // ranges fetched or waiting to be written at once (bounds memory)
};

// Fetches the bytes [offset, offset + length) into *into, replacing what it held (its
// capacity is reused); called from several threads at once.
using RangeFetch = std::function<Status(uint64_t offset, uint64_t length, std::string* into)>;

// Writes [plan.from, plan.size) to out in order, fetching up to plan.window ranges at
// once into plan.window buffers allocated once. The first failure (a fetch, a short
// range, the sink) stops the rest and is returned; nothing after the failed range
// reaches out.
Status download_in_ranges(const RangePlan& plan, const RangeFetch& fetch, Sink* out);

}  // namespace regcache
