#include "regcache/archive/zstd_contexts.hpp"

#include <mutex>

namespace regcache {

namespace {

constexpr size_t kCoderBuffer = 1 << 17;
// Contexts kept at most, of each kind: about 2.5 MiB each at level 3. A restore runs up to
// 16 layers at once; a save compresses on as many threads as there are cores.
constexpr size_t kContextsKept = 8;

// Why keep them: a new context's window and tables are memory the kernel hands out one page
// at a time on first touch, about 600 page faults per layer at level 3 (docs/decisions.md).
template <typename T>
class ContextPool {
 public:
  std::unique_ptr<T> take() {
    std::lock_guard lock(mu_);
    if (idle_.empty()) return nullptr;
    auto t = std::move(idle_.back());
    idle_.pop_back();
    return t;
  }
  void give(T* t) {
    std::unique_ptr<T> owned(t);
    std::lock_guard lock(mu_);
    if (idle_.size() < kContextsKept) idle_.push_back(std::move(owned));
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<T>> idle_;
};

// Never destroyed: a thread still coding when the process exits must not meet a freed pool.
ContextPool<ZstdEncoder>& encoders() {
  static auto* pool = new ContextPool<ZstdEncoder>;
  return *pool;
}

ContextPool<ZstdDecoder>& decoders() {
  static auto* pool = new ContextPool<ZstdDecoder>;
  return *pool;
}

}  // namespace

void ReturnEncoder::operator()(ZstdEncoder* e) const {
  encoders().give(e);
}

void ReturnDecoder::operator()(ZstdDecoder* d) const {
  decoders().give(d);
}

EncoderHandle take_encoder(int level) {
  auto e = encoders().take();
  if (!e) {
    e = std::make_unique<ZstdEncoder>();
    e->out.resize(kCoderBuffer);
  }
  ZSTD_CCtx_reset(e->ctx, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(e->ctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(e->ctx, ZSTD_c_checksumFlag, 0);
  return EncoderHandle(e.release());
}

DecoderHandle take_decoder() {
  auto d = decoders().take();
  if (!d) {
    d = std::make_unique<ZstdDecoder>();
    d->out.resize(kCoderBuffer);
  }
  ZSTD_DCtx_reset(d->ctx, ZSTD_reset_session_and_parameters);
  ZSTD_DCtx_setParameter(d->ctx, ZSTD_d_windowLogMax, 27);  // 128 MiB window at most
  return DecoderHandle(d.release());
}

}  // namespace regcache
