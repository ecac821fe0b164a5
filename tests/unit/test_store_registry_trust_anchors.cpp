// TrustAnchors: one parse of the bundle, one store shared by every TLS context.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>
#include <thread>
#include <vector>

#include "regcache/store/registry/trust_anchors.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

// A self-signed certificate (P-256) named `cn`, as PEM.
std::string trust_test_certificate_pem(const std::string& cn) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return pem;
}

TEST(TrustAnchors, EveryContextVerifiesAgainstOneStoreHoldingTheWholeBundle) {
  testing::TempDir dir;
  testing::write_file(dir / "bundle.pem", trust_test_certificate_pem("one") +
                                              trust_test_certificate_pem("two") +
                                              trust_test_certificate_pem("three"));
  TrustAnchors anchors(CaLocations{dir / "bundle.pem", ""});
  std::vector<SSL_CTX*> contexts(8);
  for (auto& c : contexts) c = SSL_CTX_new(TLS_client_method());
  std::vector<char> installed(contexts.size(), 0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < contexts.size(); ++i) {
    threads.emplace_back([&, i] { installed[i] = anchors.install(contexts[i]) ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  X509_STORE* shared = SSL_CTX_get_cert_store(contexts[0]);
  for (size_t i = 0; i < contexts.size(); ++i) {
    EXPECT_TRUE(installed[i]) << i;
    EXPECT_EQ(SSL_CTX_get_cert_store(contexts[i]), shared) << i;
  }
  EXPECT_EQ(sk_X509_OBJECT_num(X509_STORE_get0_objects(shared)), 3);
  EXPECT_EQ(anchors.error(), "");
  for (auto* c : contexts) SSL_CTX_free(c);  // the store outlives them: the anchors hold it
}

TEST(TrustAnchors, ABundleWithNoCertificateIsNamedAndInstallsNothing) {
  testing::TempDir dir;
  testing::write_file(dir / "not-pem.crt", "this is no certificate\n");
  TrustAnchors anchors(CaLocations{dir / "not-pem.crt", ""});
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  X509_STORE* own = SSL_CTX_get_cert_store(ctx);
  EXPECT_FALSE(anchors.install(ctx));
  EXPECT_EQ(SSL_CTX_get_cert_store(ctx), own);
  EXPECT_NE(anchors.error().find(dir / "not-pem.crt"), std::string::npos) << anchors.error();
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace regcache
