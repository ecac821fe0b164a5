#include "regcache/util/hand_off_sink.hpp"

#include <system_error>

#include "regcache/util/guarded.hpp"

namespace regcache {

HandOffSink::HandOffSink(Sink* next, size_t chunk, size_t depth)
    : next_(next), chunk_(chunk > 0 ? chunk : 1), depth_(depth > 0 ? depth : 1) {
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error&) {
    // No thread: writes go straight to next.
  }
}

HandOffSink::~HandOffSink() {
  (void)drain();
}

void HandOffSink::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return !queue_.empty() || closing_; });
    if (queue_.empty()) return;  // closing, and nothing left
    std::string chunk = std::move(queue_.front());
    queue_.pop_front();
    changed_.notify_all();  // room for the writer
    const bool failed = !error_.ok();
    lock.unlock();
    Status st =
        failed ? Status{} : guarded([&] { return next_->write(chunk.data(), chunk.size()); });
    chunk.clear();
    lock.lock();
    if (!st.ok() && error_.ok()) error_ = st;
    spare_.push_back(std::move(chunk));
  }
}

Status HandOffSink::push_current(std::unique_lock<std::mutex>& lock) {
  changed_.wait(lock, [&] { return queue_.size() < depth_; });
  queue_.push_back(std::move(current_));
  current_.clear();
  if (!spare_.empty()) {
    current_ = std::move(spare_.back());
    spare_.pop_back();
  }
  changed_.notify_all();
  return error_;
}

Status HandOffSink::write(const char* data, size_t size) {
  if (!thread_.joinable()) {  // no thread, or drained: the same contract, on this thread
    if (error_.ok()) error_ = next_->write(data, size);
    return error_;
  }
  while (size > 0) {
    if (current_.capacity() < chunk_) current_.reserve(chunk_);
    const size_t n = std::min(size, chunk_ - current_.size());
    current_.append(data, n);
    data += n;
    size -= n;
    if (current_.size() == chunk_) {
      std::unique_lock lock(mu_);
      RC_CHECK(push_current(lock));
    }
  }
  std::lock_guard lock(mu_);
  return error_;
}

Status HandOffSink::drain() {
  if (!thread_.joinable()) return error_;
  {
    std::unique_lock lock(mu_);
    if (!current_.empty()) (void)push_current(lock);
    closing_ = true;
    changed_.notify_all();
  }
  thread_.join();
  return error_;
}

Status HandOffSink::finish() {
  RC_CHECK(drain());
  return next_->finish();
}

}  // namespace regcache
