// A fixed set of threads running queued tasks: the second stage of a pipeline whose
// first stage (parallel_for) produces work at its own pace.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "regcache/util/result.hpp"

namespace regcache {

// Runs submitted tasks on `threads` threads; submit() blocks while `capacity` tasks wait,
// so a slow stage holds back the one feeding it. After the first failure the remaining
// queued tasks are dropped; wait() returns that failure.
class TaskPool {
 public:
  TaskPool(size_t threads, size_t capacity);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;
  // Queues a task; returns the first failure instead when one happened already.
  Status submit(std::function<Status()> task);
  // Waits until every queued task ran and the threads stopped; returns the first failure.
  Status wait();

 private:
  void run();
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::function<Status()>> queue_;
  std::vector<std::thread> threads_;
  std::optional<Error> failure_;
  size_t capacity_;
  bool closing_ = false;
};

}  // namespace regcache
