#include "regcache/format/key_tag.hpp"

#include "regcache/store/referrers.hpp"
#include "regcache/util/sha256.hpp"
#include "regcache/util/utf8.hpp"

namespace regcache {

namespace {

constexpr size_t kSanitizedLength = 100;

bool tag_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Maps every run of other characters to one '-' and drops leading ones, so the result
// also satisfies the OCI layout's ref.name grammar. It works left to right, so the
// sanitized form of a prefix is a prefix of the sanitized form of every longer string.
std::string sanitize(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < kSanitizedLength; ++i) {
    if (alnum(s[i]))
      out.push_back(s[i]);
    else if (!out.empty() && out.back() != '-')
      out.push_back('-');
  }
  return out;
}

// A tag that is also a valid OCI layout ref.name: alphanum runs joined by one of . _ -
// (or "--").
bool is_ref_name(std::string_view s) {
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
  for (size_t i = 1; i < s.size(); ++i) {
    if (alnum(s[i])) continue;
    bool double_dash = s[i] == '-' && s[i - 1] == '-' && i >= 2 && alnum(s[i - 2]);
    if (!alnum(s[i - 1]) && !double_dash) return false;
  }
  return true;
}

}  // namespace

Status validate_key(std::string_view key) {
  if (key.empty()) return make_error(ErrorKind::usage, "a cache key must not be empty");
  if (key.size() > kMaxKeyLength) {
    return make_error(ErrorKind::usage, "cache key is longer than 512 characters (" +
                                            std::to_string(key.size()) + ")");
  }
  if (key.find(',') != std::string_view::npos) {
    return make_error(ErrorKind::usage, "cache key must not contain a comma: " + std::string(key));
  }
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) {
      return make_error(ErrorKind::usage, "cache key must not contain control characters");
    }
  }
  // It goes into the entry's JSON and into --json output as text.
  if (!is_valid_utf8(key)) {
    return make_error(ErrorKind::usage, "cache key is not valid UTF-8: " + escaped_bytes(key));
  }
  // A CI runner takes a line starting with "::" or "##[" as a command; `regcache key`
  // prints the key at the start of a line.
  if (key.substr(0, 2) == "::" || key.substr(0, 3) == "##[") {
    return make_error(ErrorKind::usage, "a cache key must not start with \"::\" or \"##[\"");
  }
  if (is_reserved_tag(std::string(key))) {
    return make_error(ErrorKind::usage, std::string(key) +
                                            " is reserved for regcache's own records (last use, "
                                            "lookup index)");
  }
  if (is_referrers_tag(std::string(key))) {
    return make_error(ErrorKind::usage,
                      "a cache key of the form sha256-<64 hex digits> is reserved for signatures");
  }
  return {};
}

bool is_valid_tag(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  if (s[0] == '.' || s[0] == '-') return false;
  for (char c : s) {
    if (!tag_char(c)) return false;
  }
  return true;
}

std::string tag_for_key(std::string_view key) {
  if (is_valid_tag(key) && is_ref_name(key)) return std::string(key);
  std::string base = sanitize(key);
  while (!base.empty() && base.back() == '-') base.pop_back();
  return (base.empty() ? "" : base + "-") + sha256_hex(key).substr(0, 16);
}

// A key that is its own tag starts with the prefix as typed; any other key's tag starts
// with the prefix's sanitized form (e.g. "deps_" gives "deps-"): keep what both share.
std::string tag_prefix_for(std::string_view prefix) {
  std::string s = sanitize(prefix);
  size_t n = 0;
  while (n < s.size() && n < prefix.size() && s[n] == prefix[n]) ++n;
  s.resize(n);
  return s;
}

}  // namespace regcache
