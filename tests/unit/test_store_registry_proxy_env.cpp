#include <gtest/gtest.h>

#include <map>

#include "regcache/store/registry/proxy_env.hpp"

using namespace regcache;

namespace {

ProxyEnv proxies_from(std::map<std::string, std::string> vars) {
  return ProxyEnv([vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

}  // namespace

TEST(ProxyEnv, NamesTheProxyWithoutItsCredentials) {
  auto p = proxies_from({{"https_proxy", "http://alice:s3cret@proxy.corp:3128/path"}});
  std::string d = p.describe_for("https://ghcr.io/v2/o/r/manifests/k");
  EXPECT_EQ(d, "the proxy http://proxy.corp:3128 that https_proxy names");
  EXPECT_EQ(d.find("s3cret"), std::string::npos);
  EXPECT_EQ(d.find("alice"), std::string::npos);
  // libcurl takes a value without a scheme as http://
  EXPECT_EQ(proxies_from({{"https_proxy", "u:p@10.0.0.1:8080"}}).describe_for("https://h/v2/"),
            "the proxy http://10.0.0.1:8080 that https_proxy names");
}

TEST(ProxyEnv, ReadsTheVariablesLibcurlReadsInItsOrder) {
  // Plain HTTP: only the lower-case http_proxy (HTTP_PROXY is not read), then all_proxy.
  EXPECT_EQ(proxies_from({{"HTTP_PROXY", "http://a:1"}}).describe_for("http://h/v2/"), "");
  EXPECT_EQ(proxies_from({{"http_proxy", "http://a:1"}}).describe_for("http://h/v2/"),
            "the proxy http://a:1 that http_proxy names");
  EXPECT_EQ(proxies_from({{"https_proxy", "http://a:1"}}).describe_for("http://h/v2/"), "");
  // HTTPS: https_proxy, then HTTPS_PROXY, then all_proxy and ALL_PROXY; empty is unset.
  EXPECT_EQ(proxies_from({{"https_proxy", "http://a:1"}, {"HTTPS_PROXY", "http://b:2"}})
                .describe_for("https://h/v2/"),
            "the proxy http://a:1 that https_proxy names");
  EXPECT_EQ(proxies_from({{"https_proxy", ""}, {"HTTPS_PROXY", "http://b:2"}})
                .describe_for("https://h/v2/"),
            "the proxy http://b:2 that HTTPS_PROXY names");
  EXPECT_EQ(proxies_from({{"ALL_PROXY", "socks5://c:3"}}).describe_for("https://h/v2/"),
            "the proxy socks5://c:3 that ALL_PROXY names");
  EXPECT_EQ(proxies_from({}).describe_for("https://h/v2/"), "");
}

TEST(ProxyEnv, NoProxySkipsTheHostsItNames) {
  auto p =
      proxies_from({{"https_proxy", "http://a:1"}, {"no_proxy", "internal.corp, 10.1.0.0/16"}});
  EXPECT_EQ(p.describe_for("https://registry.internal.corp:5000/v2/"), "");
  EXPECT_EQ(p.describe_for("https://internal.corp/v2/"), "");
  EXPECT_EQ(p.describe_for("https://10.1.200.3:5000/v2/"), "");
  EXPECT_NE(p.describe_for("https://notinternal.corp/v2/"), "");
  EXPECT_NE(p.describe_for("https://10.2.0.1/v2/"), "");
  // NO_PROXY counts only when no_proxy is unset.
  auto upper = proxies_from({{"https_proxy", "http://a:1"}, {"NO_PROXY", "ghcr.io"}});
  EXPECT_EQ(upper.describe_for("https://ghcr.io/v2/"), "");
}

TEST(ProxyEnv, NoProxyMatchesAsLibcurlDoes) {
  EXPECT_TRUE(no_proxy_matches("*", "anything"));
  EXPECT_TRUE(no_proxy_matches(".example.com", "example.com"));
  EXPECT_TRUE(no_proxy_matches(".example.com", "a.b.example.com"));
  EXPECT_TRUE(no_proxy_matches("EXAMPLE.com", "example.com"));
  EXPECT_FALSE(no_proxy_matches("example.com", "badexample.com"));
  EXPECT_FALSE(no_proxy_matches("a.example.com", "example.com"));
  EXPECT_TRUE(no_proxy_matches("localhost,127.0.0.1", "127.0.0.1"));
  EXPECT_FALSE(no_proxy_matches("127.0.0.1", "127.0.0.2"));
  EXPECT_TRUE(no_proxy_matches("127.0.0.0/8", "127.9.9.9"));
  EXPECT_FALSE(no_proxy_matches("127.0.0.0/33", "127.0.0.1"));
  EXPECT_TRUE(no_proxy_matches("[::1]", "::1"));
  EXPECT_TRUE(no_proxy_matches("fd00::/8", "fd12::1"));
  EXPECT_FALSE(no_proxy_matches("", "example.com"));
  EXPECT_FALSE(no_proxy_matches(" , ", "example.com"));
}
