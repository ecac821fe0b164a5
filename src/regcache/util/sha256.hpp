// Incremental SHA-256 (OpenSSL EVP) and the "sha256:<hex>" digest form used by OCI.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace regcache {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  // Feeds bytes into the hash.
  void update(const void* data, size_t size);
  // Finishes and returns the lowercase hex digest (64 characters); call once.
  std::string hex_final();
  // Finishes and returns the raw 32-byte digest; call once (instead of hex_final).
  std::string raw_final();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Returns the lowercase hex SHA-256 of a buffer.
std::string sha256_hex(std::string_view data);

// Returns "sha256:<hex>" of a buffer.
std::string sha256_digest(std::string_view data);

// Returns true when s is 64 lowercase hex digits (a blob's file name in a layout).
bool is_sha256_hex(std::string_view s);

// Returns true when s is "sha256:" followed by 64 lowercase hex digits.
bool is_valid_digest(std::string_view s);

}  // namespace regcache
