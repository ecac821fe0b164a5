#include "regcache/store/registry/urls.hpp"

#include <cctype>

namespace regcache {

std::string url_origin(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return url.substr(0, slash);
}

std::string url_host(const std::string& url) {
  std::string origin = url_origin(url);
  auto scheme = origin.find("://");
  return scheme == std::string::npos ? origin : origin.substr(scheme + 3);
}

std::string url_escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string next_link_target(const std::string& link) {
  size_t pos = 0;
  while ((pos = link.find('<', pos)) != std::string::npos) {
    size_t gt = link.find('>', pos);
    if (gt == std::string::npos) return "";
    size_t end = link.find(',', gt);
    std::string params = link.substr(gt, end == std::string::npos ? end : end - gt);
    if (params.find("rel=\"next\"") != std::string::npos) return link.substr(pos + 1, gt - pos - 1);
    pos = gt;
  }
  return "";
}

}  // namespace regcache
