#include "regcache/util/glob.hpp"

namespace regcache {

namespace {

// Matches a class "[...]" at p[0]; returns the length of the class, or 0 when malformed.
size_t match_class(std::string_view p, char c, bool* matched) {
  size_t i = 1;
  bool negate = i < p.size() && (p[i] == '!' || p[i] == '^');
  if (negate) ++i;
  bool any = false;
  size_t start = i;
  for (; i < p.size() && (p[i] != ']' || i == start); ++i) {
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      if (c >= p[i] && c <= p[i + 2]) any = true;
      i += 2;
    } else if (p[i] == c) {
      any = true;
    }
  }
  if (i >= p.size()) return 0;
  *matched = any != negate;
  return i + 1;
}

bool match(std::string_view p, std::string_view s) {
  while (!p.empty()) {
    if (p.substr(0, 2) == "**" && (p.size() == 2 || p[2] == '/')) {
      std::string_view rest = p.size() == 2 ? std::string_view() : p.substr(3);
      if (rest.empty()) return true;
      // try the rest at s and after every '/'
      for (size_t i = 0;;) {
        if (match(rest, s.substr(i))) return true;
        size_t slash = s.find('/', i);
        if (slash == std::string_view::npos) return false;
        i = slash + 1;
      }
    }
    char pc = p[0];
    if (pc == '*') {
      std::string_view rest = p.substr(1);
      for (size_t i = 0; i <= s.size(); ++i) {
        if (match(rest, s.substr(i))) return true;
        if (i < s.size() && s[i] == '/') return false;
      }
      return false;
    }
    if (s.empty()) return false;
    if (pc == '?') {
      if (s[0] == '/') return false;
    } else if (pc == '[') {
      bool matched = false;
      size_t len = match_class(p, s[0], &matched);
      if (len == 0) {
        if (s[0] != '[') return false;
        len = 1;
        matched = true;
      }
      if (!matched || s[0] == '/') return false;
      p.remove_prefix(len);
      s.remove_prefix(1);
      continue;
    } else if (pc != s[0]) {
      return false;
    }
    p.remove_prefix(1);
    s.remove_prefix(1);
  }
  return s.empty();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
  return match(pattern, path);
}

bool has_glob_chars(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

}  // namespace regcache
