// Streaming compression and decompression sinks (zstd via libzstd, gzip via zlib).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "regcache/util/result.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

enum class Compression { zstd, gzip };

// Returns the OCI layer media type for a compression.
std::string_view layer_media_type(Compression c);

// Returns the compression a layer media type names, or an error for unsupported types.
Result<Compression> compression_for_media_type(std::string_view media_type);

// Returns a sink that compresses into next at the given level (zstd 1-19, gzip 1-9).
std::unique_ptr<Sink> make_compressor(Compression c, int level, Sink* next);

// Returns a sink that decompresses into next and fails once the output exceeds max_output.
std::unique_ptr<Sink> make_decompressor(Compression c, uint64_t max_output, Sink* next);

}  // namespace regcache
