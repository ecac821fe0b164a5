#include "regcache/util/sha256.hpp"

#include <openssl/evp.h>

#include <algorithm>

namespace regcache {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(impl_->ctx);
}

void Sha256::update(const void* data, size_t size) {
  EVP_DigestUpdate(impl_->ctx, data, size);
}

std::string Sha256::raw_final() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string Sha256::hex_final() {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw_final()) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex_final();
}

std::string sha256_digest(std::string_view data) {
  return "sha256:" + sha256_hex(data);
}

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_valid_digest(std::string_view s) {
  return s.size() == 71 && s.substr(0, 7) == "sha256:" && is_sha256_hex(s.substr(7));
}

}  // namespace regcache
