#include "regcache/util/task_pool.hpp"

#include <algorithm>

#include "regcache/util/guarded.hpp"
#include "regcache/util/interrupt.hpp"

namespace regcache {

TaskPool::TaskPool(size_t threads, size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {
  for (size_t i = 0; i < std::max<size_t>(1, threads); ++i)
    threads_.emplace_back([this] { run(); });
}

TaskPool::~TaskPool() {
  (void)wait();
}

Status TaskPool::submit(std::function<Status()> task) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return failure_ || queue_.size() < capacity_; });
  if (failure_) return *failure_;
  queue_.push_back(std::move(task));
  changed_.notify_all();
  return {};
}

Status TaskPool::wait() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    changed_.notify_all();
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard lock(mu_);
  if (failure_) return *failure_;
  return {};
}

void TaskPool::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return closing_ || failure_ || !queue_.empty(); });
    if (failure_) queue_.clear();
    if (queue_.empty()) {
      if (closing_ || failure_) {
        changed_.notify_all();
        return;
      }
      continue;
    }
    auto task = std::move(queue_.front());
    queue_.pop_front();
    changed_.notify_all();
    lock.unlock();
    Status st = check_interrupted();
    if (st.ok()) st = guarded(task);
    lock.lock();
    if (!st.ok() && !failure_) failure_ = st.error();
    changed_.notify_all();
  }
}

}  // namespace regcache
