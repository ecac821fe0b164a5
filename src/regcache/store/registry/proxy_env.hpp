// The proxies the environment names, read by the rules libcurl applies to the same
// variables (http_proxy, https_proxy, all_proxy, no_proxy and the upper-case forms it
// accepts), so that a failed request can say which proxy it went through.
#pragma once

#include <map>
#include <string>

#include "regcache/util/env.hpp"

namespace regcache {

class ProxyEnv {
 public:
  ProxyEnv() = default;                 // no proxy anywhere
  explicit ProxyEnv(const EnvFn& env);  // reads the variables once

  // Returns "the proxy SCHEME://HOST:PORT that VARIABLE names" for a request to url, with
  // no user name or password, or "" when libcurl would connect to url directly.
  std::string describe_for(const std::string& url) const;

 private:
  std::map<std::string, std::string> vars_;  // the set, non-empty variables
};

// Returns true when host (no port, no brackets) matches a no_proxy value as libcurl reads it.
bool no_proxy_matches(const std::string& no_proxy, const std::string& host);

}  // namespace regcache
