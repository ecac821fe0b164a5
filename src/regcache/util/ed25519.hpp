// Ed25519 keys (OpenSSL EVP): generated, read and written as PEM (PKCS#8 for the private
// key, SubjectPublicKeyInfo for the public one), signing and verifying messages, and the
// key fingerprint "sha256:<hex>" of the public key's DER form, which
// `openssl pkey -pubin -outform DER | sha256sum` reproduces. Key material never appears in
// an error message.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "regcache/util/result.hpp"

namespace regcache {

class Ed25519Key {
 public:
  // Returns a new random key pair.
  static Result<Ed25519Key> generate();
  // Reads a private key from PEM text; `what` names its source in errors (a path, a variable).
  static Result<Ed25519Key> from_private_pem(std::string_view pem, const std::string& what);
  // Reads every public key of PEM text holding one or more (a private key is refused: it
  // does not belong where verify keys are kept).
  static Result<std::vector<Ed25519Key>> from_public_pems(std::string_view pem,
                                                          const std::string& what);

  // Returns true when this holds the private half (it can sign).
  bool can_sign() const;
  // Returns the private key as PKCS#8 PEM (for keygen only).
  Result<std::string> private_pem() const;
  // Returns the public key as PEM.
  Result<std::string> public_pem() const;
  // Returns "sha256:<hex>" of the public key's DER SubjectPublicKeyInfo.
  const std::string& fingerprint() const { return fingerprint_; }
  // Returns the 64-byte signature of message (needs the private half).
  Result<std::string> sign(std::string_view message) const;
  // Returns true when signature is this key's valid signature of message.
  bool verify(std::string_view message, std::string_view signature) const;

 private:
  struct Free {
    void operator()(void* p) const;
  };
  explicit Ed25519Key(void* pkey);
  std::shared_ptr<void> pkey_;  // EVP_PKEY
  std::string fingerprint_;
};

}  // namespace regcache
