#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <stdexcept>

#include "regcache/util/parallel.hpp"
#include "regcache/util/task_pool.hpp"

using namespace regcache;

TEST(TaskPool, RunsEveryTaskOnItsThreads) {
  std::atomic<int> ran{0}, running{0}, most{0};
  TaskPool pool(3, 2);
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(pool.submit([&, i]() -> Status {
                      int now = ++running;
                      int seen = most.load();
                      while (now > seen && !most.compare_exchange_weak(seen, now)) {
                      }
                      // The first two wait for each other: they must run at once, on two of
                      // the three threads, however slow the machine.
                      while (i < 2 && running.load() < 2) std::this_thread::yield();
                      std::this_thread::sleep_for(std::chrono::milliseconds(1));
                      --running;
                      ++ran;
                      return {};
                    })
                    .ok());
  }
  EXPECT_TRUE(pool.wait().ok());
  EXPECT_EQ(ran.load(), 40);
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 2);  // the tasks did overlap
}

TEST(TaskPool, SubmitBlocksWhileTheQueueIsFull) {
  std::atomic<bool> release{false};
  std::atomic<int> submitted{0};
  TaskPool pool(1, 1);
  std::thread feeder([&] {
    for (int i = 0; i < 3; ++i) {
      (void)pool.submit([&]() -> Status {
        while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return {};
      });
      ++submitted;
    }
  });
  // One running, one queued: two submits return (the test's timeout stands for never).
  while (submitted.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // The third waits. A slow feeder can only make this pass, never fail.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(submitted.load(), 2);
  release = true;
  feeder.join();
  EXPECT_TRUE(pool.wait().ok());
  EXPECT_EQ(submitted.load(), 3);
}

TEST(TaskPool, FirstFailureDropsTheRestAndIsReported) {
  std::atomic<int> ran{0};
  TaskPool pool(1, 100);
  ASSERT_TRUE(pool.submit([&]() -> Status {
                    ++ran;
                    return make_error(ErrorKind::network, "first");
                  })
                  .ok());
  for (int i = 0; i < 20; ++i) {
    (void)pool.submit([&]() -> Status {
      ++ran;
      return make_error(ErrorKind::generic, "later");
    });
  }
  Status st = pool.wait();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "first");
  EXPECT_LT(ran.load(), 21);
}

TEST(TaskPool, AnExceptionEscapingATaskIsAnErrorNotACrash) {
  TaskPool pool(2, 4);
  ASSERT_TRUE(pool.submit([]() -> Status { throw std::out_of_range("stod"); }).ok());
  Status st = pool.wait();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("internal error: stod"), std::string::npos)
      << st.error().message;
}

TEST(ParallelFor, AnExceptionEscapingAnIterationIsAnErrorNotACrash) {
  std::atomic<int> ran{0};
  Status st = parallel_for(8, 2, [&](size_t i) -> Status {
    ++ran;
    if (i == 3) throw std::runtime_error("bad reply");
    return {};
  });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("internal error: bad reply"), std::string::npos)
      << st.error().message;
  EXPECT_GE(ran.load(), 1);
}
