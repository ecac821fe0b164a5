// A byte sink: the one streaming interface that compressors, hashers, the tar reader,
// files and HTTP bodies share, so pipelines are built by wrapping sinks in sinks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "regcache/util/result.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

class Sink {
 public:
  virtual ~Sink() = default;
  // Consumes bytes; an error stops the pipeline.
  virtual Status write(const char* data, size_t size) = 0;
  // Signals the end of the stream (flushes trailing state).
  virtual Status finish() { return {}; }
};

// Collects everything into a string (for small bodies: manifests, JSON), up to a limit.
class StringSink : public Sink {
 public:
  explicit StringSink(size_t max = SIZE_MAX) : max_(max) {}
  Status write(const char* data, size_t size) override;
  std::string& str() { return data_; }

 private:
  std::string data_;
  size_t max_;
};

// Passes bytes on until the first error, then only remembers it (finish() returns it), so
// a download can still be hashed to its end: a corrupt blob is reported as a digest
// mismatch rather than as whatever a decompressor or tar reader tripped over first.
class StopOnError : public Sink {
 public:
  explicit StopOnError(Sink* next) : next_(next) {}
  Status write(const char* data, size_t size) override {
    if (error_.ok()) error_ = next_->write(data, size);
    return {};
  }
  Status finish() override { return error_.ok() ? next_->finish() : error_; }
  const Status& error() const { return error_; }

 private:
  Sink* next_;
  Status error_;
};

// Passes bytes on but fails once more than `limit` bytes arrived.
class LimitSink : public Sink {
 public:
  LimitSink(Sink* next, uint64_t limit, std::string what)
      : next_(next), limit_(limit), what_(std::move(what)) {}
  Status write(const char* data, size_t size) override;
  Status finish() override { return next_->finish(); }
  uint64_t bytes() const { return bytes_; }

 private:
  Sink* next_;
  uint64_t limit_, bytes_ = 0;
  std::string what_;
};

// Counts and SHA-256-hashes bytes on their way to another sink (which may be null).
class HashingSink : public Sink {
 public:
  explicit HashingSink(Sink* next) : next_(next) {}
  Status write(const char* data, size_t size) override;
  Status finish() override { return next_ ? next_->finish() : Status{}; }
  // Returns "sha256:<hex>"; call once, after finish.
  std::string digest() { return "sha256:" + hash_.hex_final(); }
  uint64_t bytes() const { return bytes_; }

 private:
  Sink* next_;
  Sha256 hash_;
  uint64_t bytes_ = 0;
};

// Writes to an open file descriptor (not owned).
class FdSink : public Sink {
 public:
  FdSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status write(const char* data, size_t size) override;

 private:
  int fd_;
  std::string path_;
};

// Passes bytes on and counts them (a retry knows what already reached its caller; a
// tiered read knows where its bytes came from).
class CountingSink : public Sink {
 public:
  explicit CountingSink(Sink* next) : next_(next) {}
  Status write(const char* data, size_t size) override {
    bytes += size;
    return next_->write(data, size);
  }
  Status finish() override { return next_->finish(); }
  uint64_t bytes = 0;

 private:
  Sink* next_;
};

}  // namespace regcache
