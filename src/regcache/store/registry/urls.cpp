#include "regcache/store/registry/urls.hpp"

#include <algorithm>
#include <cctype>

namespace regcache {

std::string url_origin(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return url.substr(0, slash);
}

std::string ascii_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

namespace {

std::string canonical_origin(const std::string& url) {
  std::string o = ascii_lower(url_origin(url));
  auto ends_with = [&](const std::string& tail) {
    return o.size() > tail.size() && o.compare(o.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (o.rfind("https://", 0) == 0 && ends_with(":443")) o.resize(o.size() - 4);
  if (o.rfind("http://", 0) == 0 && ends_with(":80")) o.resize(o.size() - 3);
  return o;
}

}  // namespace

bool same_origin(const std::string& a, const std::string& b) {
  return canonical_origin(a) == canonical_origin(b);
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

namespace {

// True when a link's parameters (`; rel="next"`, `;rel=next`, `; rel="prev next"`) give
// it the relation "next" (RFC 8288: quoted or not, any case, space-separated values).
bool has_next_relation(std::string params) {
  params = ascii_lower(std::move(params));
  size_t at = 0;
  while ((at = params.find("rel", at)) != std::string::npos) {
    size_t i = at + 3;
    const bool starts_param = at > 0 && (params[at - 1] == ';' || params[at - 1] == ' ');
    while (i < params.size() && params[i] == ' ') ++i;
    at += 3;
    if (!starts_param || i >= params.size() || params[i] != '=') continue;
    ++i;
    while (i < params.size() && params[i] == ' ') ++i;
    std::string value;
    if (i < params.size() && params[i] == '"') {
      size_t close = params.find('"', i + 1);
      value = params.substr(i + 1, close == std::string::npos ? std::string::npos : close - i - 1);
    } else {
      value = params.substr(i, params.find(';', i) - i);
    }
    for (size_t s = 0; s <= value.size();) {
      size_t e = std::min(value.find(' ', s), value.size());
      if (value.compare(s, e - s, "next") == 0 && e - s == 4) return true;
      s = e + 1;
    }
  }
  return false;
}

}  // namespace

std::string next_link_target(const std::string& link) {
  size_t pos = 0;
  while ((pos = link.find('<', pos)) != std::string::npos) {
    size_t gt = link.find('>', pos);
    if (gt == std::string::npos) return "";
    size_t end = link.find(',', gt);
    std::string params = link.substr(gt + 1, end == std::string::npos ? end : end - gt - 1);
    if (has_next_relation(params)) return link.substr(pos + 1, gt - pos - 1);
    pos = gt;
  }
  return "";
}

}  // namespace regcache
