#include <gtest/gtest.h>

#include <new>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "regcache/util/hand_off_sink.hpp"

using namespace regcache;

namespace {

// Keeps what it is given and which threads gave it; fails once it holds `fail_after` bytes.
class RecordingSink : public Sink {
 public:
  explicit RecordingSink(size_t fail_after = SIZE_MAX) : fail_after_(fail_after) {}
  Status write(const char* data, size_t size) override {
    threads.insert(std::this_thread::get_id());
    if (got.size() >= fail_after_) return make_error(ErrorKind::integrity, "bad tar header");
    got.append(data, size);
    return {};
  }
  Status finish() override {
    ++finished;
    return {};
  }
  std::string got;
  std::set<std::thread::id> threads;
  int finished = 0;

 private:
  size_t fail_after_;
};

std::string hand_off_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

}  // namespace

TEST(HandOffSink, PassesEveryByteInOrderOnAnotherThread) {
  const std::string data = hand_off_bytes(3 << 20, 7);
  RecordingSink next;
  {
    HandOffSink sink(&next, 4096, 3);
    std::mt19937 rng(11);
    size_t at = 0;
    while (at < data.size()) {  // pieces smaller and larger than a chunk
      size_t n = std::min<size_t>(data.size() - at, rng() % 20000);
      ASSERT_TRUE(sink.write(data.data() + at, n).ok());
      at += n;
    }
    ASSERT_TRUE(sink.finish().ok());
    EXPECT_EQ(next.finished, 1);
  }
  EXPECT_TRUE(next.got == data);
  EXPECT_EQ(next.threads.size(), 1u);
  EXPECT_EQ(next.threads.count(std::this_thread::get_id()), 0u);
}

TEST(HandOffSink, ReturnsTheFirstErrorOfWhatItFeeds) {
  const std::string data = hand_off_bytes(1 << 20, 3);
  RecordingSink next(100000);
  HandOffSink sink(&next, 4096, 2);
  Status last;
  for (size_t at = 0; at < data.size() && last.ok(); at += 1000)
    last = sink.write(data.data() + at, std::min<size_t>(1000, data.size() - at));
  Status finished = sink.finish();
  ASSERT_FALSE(finished.ok());
  EXPECT_EQ(finished.error().kind, ErrorKind::integrity);
  EXPECT_EQ(next.finished, 0);          // not finished after an error
  EXPECT_LT(next.got.size(), 104096u);  // nothing past the failing chunk
  EXPECT_TRUE(sink.write("x", 1).error().kind == ErrorKind::integrity);  // writes go nowhere
}

TEST(HandOffSink, DeliversWhatWasWrittenWhenDestroyedUnfinished) {
  const std::string data = hand_off_bytes(50000, 5);
  RecordingSink next;
  {
    HandOffSink sink(&next, 4096, 2);
    ASSERT_TRUE(sink.write(data.data(), data.size()).ok());
  }
  EXPECT_TRUE(next.got == data);
  EXPECT_EQ(next.finished, 0);
}

TEST(HandOffSink, AnExceptionInTheLastChunkIsAnErrorOfFinish) {
  struct ThrowingSink : Sink {
    size_t got = 0;
    Status write(const char*, size_t size) override {
      got += size;
      if (got > 10000) throw std::bad_alloc();
      return {};
    }
  } next;
  HandOffSink sink(&next, 4096, 4);
  const std::string data(12000, 'z');
  ASSERT_TRUE(sink.write(data.data(), data.size()).ok());  // all of it still buffered
  Status st = sink.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "out of memory");
}
