#include "regcache/archive/compression.hpp"

#include "regcache/archive/zstd_contexts.hpp"
#include "regcache/oci/media_types.hpp"

#include <zlib.h>
#include <zstd.h>

#include <string>
#include <vector>

namespace regcache {

namespace {

constexpr size_t kOutBuf = 1 << 17;

class ZstdCompressor : public Sink {
 public:
  ZstdCompressor(int level, Sink* next) : next_(next), coder_(take_encoder(level)) {}
  Status write(const char* data, size_t size) override {
    ZSTD_inBuffer in{data, size, 0};
    while (in.pos < in.size) RC_CHECK(step(&in, ZSTD_e_continue));
    return {};
  }
  Status finish() override {
    ZSTD_inBuffer in{nullptr, 0, 0};
    for (;;) {
      ZSTD_outBuffer out{coder_->out.data(), coder_->out.size(), 0};
      size_t left = ZSTD_compressStream2(coder_->ctx, &out, &in, ZSTD_e_end);
      if (ZSTD_isError(left)) return make_error(ErrorKind::generic, ZSTD_getErrorName(left));
      RC_CHECK(next_->write(coder_->out.data(), out.pos));
      if (left == 0) break;
    }
    return next_->finish();
  }

 private:
  Status step(ZSTD_inBuffer* in, ZSTD_EndDirective mode) {
    ZSTD_outBuffer out{coder_->out.data(), coder_->out.size(), 0};
    size_t r = ZSTD_compressStream2(coder_->ctx, &out, in, mode);
    if (ZSTD_isError(r)) return make_error(ErrorKind::generic, ZSTD_getErrorName(r));
    return out.pos ? next_->write(coder_->out.data(), out.pos) : Status{};
  }
  Sink* next_;
  EncoderHandle coder_;
};

class ZstdDecompressor : public Sink {
 public:
  ZstdDecompressor(uint64_t max, Sink* next) : next_(next), coder_(take_decoder()), max_(max) {}
  Status write(const char* data, size_t size) override {
    ZSTD_inBuffer in{data, size, 0};
    while (in.pos < in.size) {
      ZSTD_outBuffer out{coder_->out.data(), coder_->out.size(), 0};
      size_t r = ZSTD_decompressStream(coder_->ctx, &out, &in);
      if (ZSTD_isError(r)) {
        return make_error(ErrorKind::integrity, std::string("zstd: ") + ZSTD_getErrorName(r));
      }
      last_ = r;
      RC_CHECK(emit(out.pos));
    }
    return {};
  }
  Status finish() override {
    while (last_ != 0) {  // drain what the decoder still holds
      ZSTD_inBuffer in{nullptr, 0, 0};
      ZSTD_outBuffer out{coder_->out.data(), coder_->out.size(), 0};
      size_t r = ZSTD_decompressStream(coder_->ctx, &out, &in);
      if (ZSTD_isError(r)) return make_error(ErrorKind::integrity, "zstd: truncated stream");
      last_ = r;
      RC_CHECK(emit(out.pos));
      if (out.pos == 0) break;
    }
    if (last_ != 0) return make_error(ErrorKind::integrity, "zstd: truncated stream");
    return next_->finish();
  }

 private:
  Status emit(size_t n) {
    total_ += n;
    if (total_ > max_) {
      return make_error(ErrorKind::hostile, "layer decompresses to more than its declared size");
    }
    return n ? next_->write(coder_->out.data(), n) : Status{};
  }
  Sink* next_;
  DecoderHandle coder_;
  uint64_t max_, total_ = 0;
  size_t last_ = 0;
};

class GzipCompressor : public Sink {
 public:
  GzipCompressor(int level, Sink* next) : next_(next), out_(kOutBuf) {
    deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  }
  ~GzipCompressor() override { deflateEnd(&z_); }
  Status write(const char* data, size_t size) override { return run(data, size, Z_NO_FLUSH); }
  Status finish() override {
    RC_CHECK(run(nullptr, 0, Z_FINISH));
    return next_->finish();
  }

 private:
  Status run(const char* data, size_t size, int flush) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    z_.avail_in = static_cast<uInt>(size);
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(out_.data());
      z_.avail_out = static_cast<uInt>(out_.size());
      int r = deflate(&z_, flush);
      if (r == Z_STREAM_ERROR) return make_error(ErrorKind::generic, "gzip: deflate failed");
      size_t n = out_.size() - z_.avail_out;
      if (n) RC_CHECK(next_->write(out_.data(), n));
      if (flush == Z_FINISH ? r == Z_STREAM_END : z_.avail_in == 0 && z_.avail_out != 0) break;
    }
    return {};
  }
  Sink* next_;
  z_stream z_{};
  std::vector<char> out_;
};

class GzipDecompressor : public Sink {
 public:
  GzipDecompressor(uint64_t max, Sink* next) : next_(next), out_(kOutBuf), max_(max) {
    inflateInit2(&z_, 15 + 32);
  }
  ~GzipDecompressor() override { inflateEnd(&z_); }
  Status write(const char* data, size_t size) override {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    z_.avail_in = static_cast<uInt>(size);
    while (z_.avail_in > 0) {
      if (ended_) {  // concatenated gzip members
        inflateReset(&z_);
        ended_ = false;
      }
      z_.next_out = reinterpret_cast<Bytef*>(out_.data());
      z_.avail_out = static_cast<uInt>(out_.size());
      int r = inflate(&z_, Z_NO_FLUSH);
      if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
        return make_error(ErrorKind::integrity, "gzip: corrupt stream");
      }
      size_t n = out_.size() - z_.avail_out;
      total_ += n;
      if (total_ > max_) {
        return make_error(ErrorKind::hostile, "layer decompresses to more than its declared size");
      }
      if (n) RC_CHECK(next_->write(out_.data(), n));
      if (r == Z_STREAM_END) ended_ = true;
      if (r == Z_BUF_ERROR && n == 0) break;
    }
    return {};
  }
  Status finish() override {
    if (!ended_) return make_error(ErrorKind::integrity, "gzip: truncated stream");
    return next_->finish();
  }

 private:
  Sink* next_;
  z_stream z_{};
  std::vector<char> out_;
  uint64_t max_, total_ = 0;
  bool ended_ = false;
};

}  // namespace

std::string_view layer_media_type(Compression c) {
  return c == Compression::zstd ? kOciLayerZstd : kOciLayerGzip;
}

Result<Compression> compression_for_media_type(std::string_view mt) {
  if (mt == kOciLayerZstd) return Compression::zstd;
  if (mt == kOciLayerGzip || mt == kDockerLayerGzip) {
    return Compression::gzip;
  }
  return make_error(ErrorKind::integrity, "unsupported layer media type: " + std::string(mt));
}

std::unique_ptr<Sink> make_compressor(Compression c, int level, Sink* next) {
  if (c == Compression::zstd) return std::make_unique<ZstdCompressor>(level, next);
  return std::make_unique<GzipCompressor>(level, next);
}

std::unique_ptr<Sink> make_decompressor(Compression c, uint64_t max_output, Sink* next) {
  if (c == Compression::zstd) return std::make_unique<ZstdDecompressor>(max_output, next);
  return std::make_unique<GzipDecompressor>(max_output, next);
}

}  // namespace regcache
