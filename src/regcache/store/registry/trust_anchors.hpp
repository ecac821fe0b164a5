// Trust anchors parsed once per process and shared by every TLS connection. libcurl keeps
// its parsed CA bundle per multi handle, and each easy handle (each of our connections)
// has its own, so it would parse the bundle once per connection; OpenSSL 3 takes tens of
// milliseconds of CPU for a system bundle (docs/decisions.md, "One parse of the CA bundle").
#pragma once

#include <future>
#include <mutex>
#include <string>

#include "regcache/store/registry/ca_bundle.hpp"

namespace regcache {

class TrustAnchors {
 public:
  // Parses nothing yet. `ca` names a PEM bundle, a hashed directory, or both.
  explicit TrustAnchors(CaLocations ca);
  ~TrustAnchors();
  TrustAnchors(const TrustAnchors&) = delete;
  TrustAnchors& operator=(const TrustAnchors&) = delete;

  // Starts the parse in the background unless it has started; returns at once.
  void preload();
  // Waits for the parse, then makes `ssl_ctx` (an OpenSSL SSL_CTX*) verify against the
  // shared anchors. False when they could not be loaded; error() then says why.
  bool install(void* ssl_ctx);
  // What went wrong loading the anchors, "" when nothing did (loads them if need be).
  std::string error();

 private:
  void load();
  CaLocations ca_;
  std::once_flag started_;
  std::shared_future<void> loaded_;
  void* store_ = nullptr;  // X509_STORE*, set by load()
  std::string error_;      // set by load()
};

}  // namespace regcache
