#include "regcache/store/registry/proxy_env.hpp"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <vector>

#include "regcache/store/registry/urls.hpp"

namespace regcache {

namespace {

constexpr const char* kNames[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};

// Returns the host of "host:port", "[v6]:port" or "host", without port or brackets.
std::string bare_host(const std::string& authority) {
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    return close == std::string::npos ? authority : authority.substr(1, close - 1);
  }
  auto colon = authority.find(':');
  std::string host = authority.substr(0, colon);
  while (!host.empty() && host.back() == '.') host.pop_back();
  return ascii_lower(host);
}

// An address as bytes: 4 for IPv4, 16 for IPv6; nullopt when s is not one.
std::optional<std::string> address_bytes(const std::string& s) {
  std::array<unsigned char, 16> buf{};
  if (::inet_pton(AF_INET, s.c_str(), buf.data()) == 1)
    return std::string(reinterpret_cast<char*>(buf.data()), 4);
  if (::inet_pton(AF_INET6, s.c_str(), buf.data()) == 1)
    return std::string(reinterpret_cast<char*>(buf.data()), 16);
  return std::nullopt;
}

bool prefix_matches(const std::string& a, const std::string& b, unsigned bits) {
  if (a.size() != b.size() || bits > a.size() * 8) return false;
  size_t whole = bits / 8;
  if (std::memcmp(a.data(), b.data(), whole) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (static_cast<unsigned char>(a[whole]) & mask) ==
         (static_cast<unsigned char>(b[whole]) & mask);
}

bool token_matches(std::string token, const std::string& host,
                   const std::optional<std::string>& host_ip) {
  if (host_ip) {  // an address: the same address, or inside ADDRESS/BITS
    if (!token.empty() && token[0] == '[') token = bare_host(token);
    auto slash = token.find('/');
    auto net = address_bytes(token.substr(0, slash));
    if (!net) return false;
    unsigned bits = static_cast<unsigned>(net->size() * 8);
    if (slash != std::string::npos) {
      const char* first = token.data() + slash + 1;
      const char* last = token.data() + token.size();
      auto r = std::from_chars(first, last, bits);
      if (r.ec != std::errc() || r.ptr != last) return false;
    }
    return prefix_matches(*net, *host_ip, bits);
  }
  while (!token.empty() && token.front() == '.') token.erase(0, 1);
  while (!token.empty() && token.back() == '.') token.pop_back();
  token = ascii_lower(token);
  if (token.empty() || token.size() > host.size()) return false;
  if (token.size() == host.size()) return token == host;
  return host.compare(host.size() - token.size(), token.size(), token) == 0 &&
         host[host.size() - token.size() - 1] == '.';
}

// Returns "scheme://host[:port]" of a proxy variable's value: libcurl takes a value with
// no scheme as http://, and the user name and password never leave here.
std::string proxy_origin(const std::string& value) {
  auto scheme_end = value.find("://");
  std::string scheme =
      scheme_end == std::string::npos ? "http" : ascii_lower(value.substr(0, scheme_end));
  std::string rest = scheme_end == std::string::npos ? value : value.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  auto at = rest.rfind('@');
  if (at != std::string::npos) rest = rest.substr(at + 1);
  return scheme + "://" + rest;
}

}  // namespace

bool no_proxy_matches(const std::string& no_proxy, const std::string& host) {
  const std::optional<std::string> host_ip = address_bytes(host);
  size_t pos = 0;
  while (pos < no_proxy.size()) {
    size_t end = no_proxy.find_first_of(", \t", pos);
    if (end == std::string::npos) end = no_proxy.size();
    std::string token = no_proxy.substr(pos, end - pos);
    pos = end + 1;
    if (token.empty()) continue;
    if (token == "*") return true;
    if (token_matches(token, host, host_ip)) return true;
  }
  return false;
}

ProxyEnv::ProxyEnv(const EnvFn& env) {
  if (!env) return;
  for (const char* name : kNames) {
    auto v = env(name);
    if (v && !v->empty()) vars_[name] = *v;
  }
}

std::string ProxyEnv::describe_for(const std::string& url) const {
  if (vars_.empty()) return "";
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  const std::string scheme = ascii_lower(url.substr(0, scheme_end));
  // libcurl reads only the lower-case http_proxy (HTTP_PROXY may come from a request header
  // in CGI programs), both forms for the other schemes, then all_proxy.
  std::vector<std::string> names = {scheme + "_proxy"};
  if (scheme == "https") names.push_back("HTTPS_PROXY");
  names.push_back("all_proxy");
  names.push_back("ALL_PROXY");
  const std::string* chosen = nullptr;
  std::string variable;
  for (const auto& n : names) {
    auto it = vars_.find(n);
    if (it != vars_.end()) {
      chosen = &it->second;
      variable = n;
      break;
    }
  }
  if (!chosen) return "";
  auto no = vars_.find("no_proxy");
  if (no == vars_.end()) no = vars_.find("NO_PROXY");
  if (no != vars_.end() && no_proxy_matches(no->second, bare_host(url_host(url)))) return "";
  return "the proxy " + proxy_origin(*chosen) + " that " + variable + " names";
}

}  // namespace regcache
