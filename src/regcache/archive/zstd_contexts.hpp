// zstd contexts kept between streams: a process that codes many layers maps each context's
// window and tables once, not once per layer.
#pragma once

#include <zstd.h>

#include <memory>
#include <vector>

namespace regcache {

// A compression context with its output buffer.
struct ZstdEncoder {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  std::vector<char> out;
  ZstdEncoder() = default;
  ZstdEncoder(const ZstdEncoder&) = delete;
  ZstdEncoder& operator=(const ZstdEncoder&) = delete;
  ~ZstdEncoder() { ZSTD_freeCCtx(ctx); }
};

// A decompression context with its output buffer.
struct ZstdDecoder {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  std::vector<char> out;
  ZstdDecoder() = default;
  ZstdDecoder(const ZstdDecoder&) = delete;
  ZstdDecoder& operator=(const ZstdDecoder&) = delete;
  ~ZstdDecoder() { ZSTD_freeDCtx(ctx); }
};

struct ReturnEncoder {
  void operator()(ZstdEncoder* e) const;
};
struct ReturnDecoder {
  void operator()(ZstdDecoder* d) const;
};
using EncoderHandle = std::unique_ptr<ZstdEncoder, ReturnEncoder>;
using DecoderHandle = std::unique_ptr<ZstdDecoder, ReturnDecoder>;

// Returns an encoder set for a new frame at `level`; dropping the handle keeps it for reuse.
EncoderHandle take_encoder(int level);

// Returns a decoder set for a new frame (windows up to 128 MiB); dropping the handle keeps it.
DecoderHandle take_decoder();

}  // namespace regcache
