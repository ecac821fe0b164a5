#include "regcache/oci/reference.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <regex>

namespace regcache {

namespace {

bool valid_repository(const std::string& repo) {
  static const std::regex re(
      "^[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*$");
  return repo.size() <= 255 && std::regex_match(repo, re);
}

bool valid_tag(const std::string& tag) {
  static const std::regex re("^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$");
  return std::regex_match(tag, re);
}

// A DNS name or IPv4 address, or an IPv6 address in brackets, with an optional port.
bool valid_host(const std::string& host) {
  static const std::regex re(
      "^(([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*|"
      "\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?$");
  if (host.size() > 255 || !std::regex_match(host, re)) return false;
  auto colon = host.rfind(':');
  if (colon == std::string::npos || host.back() == ']') return true;
  return std::stoul(host.substr(colon + 1)) <= 65535;
}

std::string strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    return std::string(host.substr(1, close == host.npos ? host.npos : close - 1));
  }
  auto colon = host.rfind(':');
  return std::string(colon == host.npos ? host : host.substr(0, colon));
}

// A first component names a host when it has a dot or a port, or is localhost.
bool looks_like_host(const std::string& first) {
  return first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
         first == "localhost" || (!first.empty() && first.front() == '[');
}

Error bad_reference(std::string_view text, const std::string& why) {
  // The text is shown without what stands before an '@' in the host (a credential).
  std::string shown(text);
  auto at = shown.find('@'),
       slash = shown.find('/', shown.find("://") == std::string::npos ? 0 : shown.find("://") + 3);
  if (at != std::string::npos && (slash == std::string::npos || at < slash))
    shown = "…" + shown.substr(at);
  return make_error(ErrorKind::usage, "reference '" + shown + "' " + why);
}

}  // namespace

Result<ImageReference> parse_image_reference(std::string_view text, HostRule rule) {
  std::string s(text);
  if (s.rfind("docker://", 0) == 0) s = s.substr(9);
  if (s.find("://") != std::string::npos)
    return bad_reference(text, "has an unknown scheme (use docker://HOST/REPO)");
  ImageReference out;
  if (auto at = s.rfind('@'); at != std::string::npos && s.compare(at + 1, 7, "sha256:") == 0) {
    out.digest = s.substr(at + 1);
    s = s.substr(0, at);
  }
  auto colon = s.rfind(':');
  if (colon != std::string::npos && s.find('/', colon) == std::string::npos &&
      s.find('/') != std::string::npos && s.find('/') < colon) {
    out.tag = s.substr(colon + 1);
    s = s.substr(0, colon);
    if (!valid_tag(out.tag)) return bad_reference(text, "has an invalid tag '" + out.tag + "'");
  }
  auto slash = s.find('/');
  std::string first = slash == std::string::npos ? "" : s.substr(0, slash);
  if (first.find('@') != std::string::npos) {
    return bad_reference(
        text,
        "holds credentials before '@'; pass them in REGCACHE_USERNAME/REGCACHE_PASSWORD instead");
  }
  if (looks_like_host(first)) {
    if (!valid_host(first))
      return bad_reference(text, "has an invalid registry host '" + first +
                                     "' (a name or address and a port, no spaces)");
    out.host = first;
    out.repository = s.substr(slash + 1);
  } else if (rule == HostRule::required) {
    return bad_reference(
        text, slash == std::string::npos || slash == 0
                  ? "needs a host and a repository (HOST/REPO)"
                  : "does not start with a registry host (use oci:PATH for a directory)");
  } else {
    out.host = "docker.io";
    out.repository = s;
  }
  if (out.host == "docker.io" || out.host == "index.docker.io") {
    out.host = "registry-1.docker.io";
    if (out.repository.find('/') == std::string::npos) out.repository = "library/" + out.repository;
  }
  if (out.host.empty() || !valid_repository(out.repository)) {
    return bad_reference(text, "has an invalid repository name '" + out.repository +
                                   "' (lowercase letters, digits, . _ - and /)");
  }
  return out;
}

bool is_loopback_host(std::string_view host) {
  std::string h = strip_port(host);
  if (h == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, h.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace regcache
