#include "regcache/util/ed25519.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

EVP_PKEY* raw(const std::shared_ptr<void>& p) {
  return static_cast<EVP_PKEY*>(p.get());
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// A passphrase callback that gives none: an encrypted key is refused, never prompted for.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace

void Ed25519Key::Free::operator()(void* p) const {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(p));
}

Ed25519Key::Ed25519Key(void* pkey) : pkey_(pkey, Free{}) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(raw(pkey_), &der);
  if (n > 0) {
    fingerprint_ =
        sha256_digest(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(n)));
    OPENSSL_free(der);
  }
}

Result<Ed25519Key> Ed25519Key::generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!pkey) return make_error(ErrorKind::generic, "cannot generate an Ed25519 key");
  return Ed25519Key(pkey);
}

Result<Ed25519Key> Ed25519Key::from_private_pem(std::string_view pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* pkey =
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr;
  if (!pkey && pem.find("ENCRYPTED") != std::string_view::npos)
    return make_error(ErrorKind::usage,
                      what + ": an encrypted key; regcache takes unencrypted PEM keys");
  if (!pkey) return make_error(ErrorKind::usage, what + ": not a private key in PEM form");
  Ed25519Key key(pkey);
  if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)
    return make_error(ErrorKind::usage, what + ": not an Ed25519 key (regcache keygen makes one)");
  return key;
}

Result<std::vector<Ed25519Key>> Ed25519Key::from_public_pems(std::string_view pem,
                                                             const std::string& what) {
  std::vector<Ed25519Key> keys;
  size_t pos = 0;
  while ((pos = pem.find("-----BEGIN ", pos)) != std::string_view::npos) {
    size_t end = pem.find("-----END ", pos);
    if (end == std::string_view::npos) break;
    end = pem.find("-----", end + 9);
    if (end == std::string_view::npos) break;
    std::string_view block = pem.substr(pos, end + 5 - pos);
    pos = end + 5;
    BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
    EVP_PKEY* pkey =
        bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr) : nullptr;
    if (!pkey && block.find("PRIVATE KEY") != std::string_view::npos)
      return make_error(ErrorKind::usage,
                        what + ": a private key; give the public key (regcache.pub) to verify");
    if (!pkey) return make_error(ErrorKind::usage, what + ": a PEM block that is not a key");
    Ed25519Key key(pkey);
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)
      return make_error(ErrorKind::usage,
                        what + ": not an Ed25519 key (regcache keygen makes one)");
    keys.push_back(std::move(key));
  }
  if (keys.empty()) return make_error(ErrorKind::usage, what + ": no public key in PEM form");
  return keys;
}

bool Ed25519Key::can_sign() const {
  // An Ed25519 EVP_PKEY read from a public key has no private component to export.
  size_t n = 0;
  return EVP_PKEY_get_raw_private_key(raw(pkey_), nullptr, &n) == 1 && n == 32;
}

Result<std::string> Ed25519Key::private_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), raw(pkey_), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return make_error(ErrorKind::generic, "cannot encode the private key");
  return bio_text(bio.get());
}

Result<std::string> Ed25519Key::public_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), raw(pkey_)) != 1)
    return make_error(ErrorKind::generic, "cannot encode the public key");
  return bio_text(bio.get());
}

Result<std::string> Ed25519Key::sign(std::string_view message) const {
  if (!can_sign()) return make_error(ErrorKind::usage, "a public key cannot sign");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, raw(pkey_)) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return make_error(ErrorKind::generic, "cannot sign with the Ed25519 key");
  }
  sig.resize(len);
  return sig;
}

bool Ed25519Key::verify(std::string_view message, std::string_view signature) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, raw(pkey_)) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

}  // namespace regcache
