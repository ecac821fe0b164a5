#include "regcache/store/registry/trust_anchors.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace regcache {

TrustAnchors::TrustAnchors(CaLocations ca) : ca_(std::move(ca)) {}

TrustAnchors::~TrustAnchors() {
  if (loaded_.valid()) loaded_.wait();
  X509_STORE_free(static_cast<X509_STORE*>(store_));
}

void TrustAnchors::preload() {
  std::call_once(started_,
                 [this] { loaded_ = std::async(std::launch::async, [this] { load(); }).share(); });
}

void TrustAnchors::load() {
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) {
    error_ = "out of memory creating a certificate store";
    return;
  }
  const std::string& file = ca_.file;
  const std::string& dir = ca_.dir;
  if (!file.empty() && X509_STORE_load_file(store, file.c_str()) != 1) {
    error_ = "cannot load the certificates in " + file;
  } else if (!dir.empty() && X509_STORE_load_path(store, dir.c_str()) != 1) {
    error_ = "cannot use the certificate directory " + dir;
  }
  ERR_clear_error();  // this thread's queue: the failure is told by error_
  if (!error_.empty()) {
    X509_STORE_free(store);
    return;
  }
  // As libcurl sets on its own store: the anchors are tried first, and an intermediate
  // certificate in the bundle is trusted as an anchor.
  X509_STORE_set_flags(store, X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN);
  store_ = store;
}

bool TrustAnchors::install(void* ssl_ctx) {
  preload();
  loaded_.wait();
  if (store_ == nullptr) return false;
  SSL_CTX_set1_cert_store(static_cast<SSL_CTX*>(ssl_ctx), static_cast<X509_STORE*>(store_));
  return true;
}

std::string TrustAnchors::error() {
  preload();
  loaded_.wait();
  return error_;
}

}  // namespace regcache
