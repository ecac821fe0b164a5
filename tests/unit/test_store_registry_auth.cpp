#include <gtest/gtest.h>

#include "regcache/store/registry/auth.hpp"
#include "regcache/store/store_ref.hpp"

using namespace regcache;

TEST(Challenge, ParsesBearerWithQuotedParams) {
  auto c = parse_challenge(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.example/token");
  EXPECT_EQ(c->params["service"], "registry.example");
  EXPECT_EQ(c->params["scope"], "repository:a/b:pull,push");
}

TEST(Challenge, ParsesBasicAndPicksASupportedScheme) {
  auto basic = parse_challenge(R"(Basic realm="test")");
  ASSERT_TRUE(basic.ok());
  EXPECT_EQ(basic->scheme, "basic");
  auto several = parse_challenge("Negotiate\nBearer realm=\"r\"");
  ASSERT_TRUE(several.ok());
  EXPECT_EQ(several->scheme, "bearer");
}

TEST(Challenge, EscapesAndErrors) {
  auto c = parse_challenge(R"(Bearer realm="a\"b",error="insufficient_scope")");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->params["realm"], "a\"b");
  EXPECT_EQ(c->params["error"], "insufficient_scope");
  EXPECT_FALSE(parse_challenge(R"(Bearer realm="unterminated)").ok());
  EXPECT_FALSE(parse_challenge("").ok());
}

TEST(StoreRef, Layout) {
  auto r = parse_store_ref("oci:/tmp/x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, StoreKind::layout);
  EXPECT_EQ(r->path, "/tmp/x");
  EXPECT_FALSE(parse_store_ref("oci:").ok());
}

TEST(StoreRef, Registry) {
  auto r = parse_store_ref("docker://ghcr.io/acme/app/cache");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->host, "ghcr.io");
  EXPECT_EQ(r->repository, "acme/app/cache");
  auto local = parse_store_ref("localhost:5000/cache");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->host, "localhost:5000");
  auto hub = parse_store_ref("docker.io/user/cache");
  ASSERT_TRUE(hub.ok());
  EXPECT_EQ(hub->host, "registry-1.docker.io");
}

TEST(StoreRef, RejectsWithUsageErrors) {
  for (const char* bad :
       {"ftp://x/y", "justaname", "ghcr.io", "ghcr.io/UPPER/case", "ghcr.io/a//b", ""}) {
    auto r = parse_store_ref(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::usage) << bad;
  }
}

TEST(StoreRef, AHostMustBeANameOrAnAddressWithAPort) {
  for (const char* good : {"ghcr.io/a", "localhost:5000/a", "127.0.0.1:65535/a", "[::1]:5000/a",
                           "my-registry.example.com/a/b", "REGISTRY.example.com/a"}) {
    EXPECT_TRUE(parse_store_ref(good).ok()) << good;
  }
  for (const char* bad :
       {" 127.0.0.1:5000/a", "ghcr.io /a", "ghcr.io:/a", "ghcr.io:99999/a", "ghcr.io:50x/a",
        "-bad.example.com/a", "a..b.com/a", "a.b.com:5000:6/a", "[::1/a", "ghcr.io	/a"}) {
    auto r = parse_store_ref(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::usage) << bad;
    EXPECT_NE(r.error().message.find("invalid registry host"), std::string::npos)
        << r.error().message;
  }
  auto pinned = parse_store_ref("ghcr.io/a/b@sha256:" + std::string(64, 'a'));
  ASSERT_FALSE(pinned.ok());
  EXPECT_NE(pinned.error().message.find("drop @sha256:"), std::string::npos)
      << pinned.error().message;
}

TEST(StoreRef, Loopback) {
  EXPECT_TRUE(is_loopback_host("localhost:5000"));
  EXPECT_TRUE(is_loopback_host("127.0.0.1:1234"));
  EXPECT_TRUE(is_loopback_host("127.8.9.10"));
  EXPECT_TRUE(is_loopback_host("[::1]:5000"));
  EXPECT_FALSE(is_loopback_host("ghcr.io"));
  EXPECT_FALSE(is_loopback_host("128.0.0.1"));
  EXPECT_FALSE(is_loopback_host("127.0.0.1.example.com"));  // a name, not an address
  EXPECT_FALSE(is_loopback_host("127.evil.example:5000"));
  EXPECT_FALSE(is_loopback_host("localhost.example.com"));
}

// Found by tests/integration/test_secrets.py: "user:password@host/repo" was taken as a host,
// shown by -v and in error messages; now refused without echoing the password.
TEST(StoreRef, CredentialsInTheReferenceAreRefusedWithoutEchoingThem) {
  for (const char* ref :
       {"user:s3cret-pw@127.0.0.1:5000/cache", "docker://user:s3cret-pw@ghcr.io/a/b",
        "https://user:s3cret-pw@ghcr.io/a/b", "user:s3cret-pw@ghcr.io"}) {
    auto r = parse_store_ref(ref);
    ASSERT_FALSE(r.ok()) << ref;
    EXPECT_EQ(r.error().kind, ErrorKind::usage);
    EXPECT_EQ(r.error().message.find("s3cret-pw"), std::string::npos) << r.error().message;
  }
}

namespace {

// A token service answering token-1, token-2, ... and counting the requests.
class TokenService : public HttpTransport {
 public:
  Result<HttpResponse> perform(const HttpRequest&) override {
    HttpResponse r;
    r.status = 200;
    r.body = R"({"token":"token-)" + std::to_string(++fetched) + R"("})";
    return r;
  }
  int fetched = 0;
};

const std::string kBearer = R"(Bearer realm="https://auth.test/token",service="reg")";
const std::string kScope = "repository:a/b:pull";

}  // namespace

// Requests challenged at the same time (the lookup and the last-use record when a restore
// starts): the second one keeps the token the first fetched, instead of dropping it.
TEST(Authorizer, RequestsChallengedTogetherShareOneToken) {
  TokenService tokens;
  Authorizer auth(&tokens, Credentials{"u", "p", ""}, "reg.test");
  ASSERT_TRUE(auth.on_challenge(kBearer, kScope, "").ok());
  ASSERT_TRUE(auth.on_challenge(kBearer, kScope, "").ok());  // sent before the token came
  EXPECT_EQ(tokens.fetched, 1);
  EXPECT_EQ(auth.header_for(kScope), "Authorization: Bearer token-1");
  // The token itself refused (expired): a new one.
  ASSERT_TRUE(auth.on_challenge(kBearer, kScope, "Authorization: Bearer token-1").ok());
  EXPECT_EQ(tokens.fetched, 2);
  EXPECT_EQ(auth.header_for(kScope), "Authorization: Bearer token-2");
}

// The same for Basic: a request sent anonymously before another one learnt the scheme
// is not told the credentials were refused; one that sent them is.
TEST(Authorizer, BasicIsRefusedOnlyWhenItWasSent) {
  TokenService none;
  Authorizer auth(&none, Credentials{"u", "p", ""}, "reg.test");
  ASSERT_TRUE(auth.on_challenge("Basic realm=\"r\"", kScope, "").ok());
  ASSERT_TRUE(auth.on_challenge("Basic realm=\"r\"", kScope, "").ok());
  std::string basic = auth.header_for(kScope);
  ASSERT_EQ(basic.rfind("Authorization: Basic ", 0), 0u);
  auto refused = auth.on_challenge("Basic realm=\"r\"", kScope, basic);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("refused"), std::string::npos);
  EXPECT_EQ(none.fetched, 0);
}
