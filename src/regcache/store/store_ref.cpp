#include "regcache/store/store_ref.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <regex>

#include "regcache/util/log.hpp"

namespace regcache {

namespace {

bool valid_repository(const std::string& repo) {
  static const std::regex re(
      "^[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*$");
  return repo.size() <= 255 && std::regex_match(repo, re);
}

std::string strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    return std::string(host.substr(1, close == host.npos ? host.npos : close - 1));
  }
  auto colon = host.rfind(':');
  return std::string(colon == host.npos ? host : host.substr(0, colon));
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  // From the parsed address, never from a name's prefix: 127.0.0.1.example.com is a name.
  std::string h = strip_port(host);
  if (h == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, h.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

Result<StoreRef> parse_store_ref(std::string_view ref) {
  StoreRef out;
  if (ref.empty()) return make_error(ErrorKind::usage, "empty --store reference");
  if (ref.rfind("oci:", 0) == 0) {
    out.kind = StoreKind::layout;
    out.path = std::string(ref.substr(4));
    if (out.path.empty()) return make_error(ErrorKind::usage, "oci: store needs a directory path");
    return out;
  }
  std::string_view rest = ref;
  if (ref.rfind("docker://", 0) == 0)
    rest = ref.substr(9);
  else if (ref.find("://") != std::string_view::npos) {
    return make_error(ErrorKind::usage, "unknown store scheme in '" + redact_url(ref) +
                                            "' (use oci:PATH or docker://HOST/REPO)");
  }
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return make_error(ErrorKind::usage, "store reference '" + redact_url(ref) +
                                            "' needs a host and a repository (HOST/REPO)");
  }
  // user:password@ would end up in messages and in every URL: credentials have their own
  // sources (REGCACHE_USERNAME/REGCACHE_PASSWORD, auth files), and the reference is shown.
  if (rest.substr(0, slash).find('@') != std::string_view::npos) {
    return make_error(ErrorKind::usage, "store reference '" + redact_url(ref) +
                                            "' holds credentials before '@'; pass them in "
                                            "REGCACHE_USERNAME/REGCACHE_PASSWORD instead");
  }
  out.kind = StoreKind::registry;
  out.host = std::string(rest.substr(0, slash));
  out.repository = std::string(rest.substr(slash + 1));
  std::string bare = strip_port(out.host);
  if (bare.find('.') == std::string::npos && bare.find(':') == std::string::npos &&
      bare != "localhost" && out.host.find(':') == std::string::npos) {
    return make_error(ErrorKind::usage,
                      "'" + out.host + "' in store reference '" + std::string(ref) +
                          "' is not a registry host (use oci:PATH for a directory)");
  }
  if (out.host == "docker.io" || out.host == "index.docker.io") {
    out.host = "registry-1.docker.io";
    if (out.repository.find('/') == std::string::npos) out.repository = "library/" + out.repository;
  }
  if (!valid_repository(out.repository)) {
    return make_error(ErrorKind::usage, "invalid repository name '" + out.repository +
                                            "' (lowercase letters, digits, . _ - and /)");
  }
  return out;
}

}  // namespace regcache
