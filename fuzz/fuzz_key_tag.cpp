// Fuzz target for the key/tag codec: for any key that validate_key accepts, tag_for_key
// gives a valid OCI tag that is also a valid OCI layout ref.name, the same tag every time,
// the key itself when the key already is such a tag, and a tag that starts with
// tag_prefix_for(p) for every prefix p of the key (so restore-key lookups find it). The
// codec is one-way; "decoding" is the lookup's check that the annotated key equals the
// key, so two different keys must not share a tag unless one is a hashed form.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

#include "regcache/format/key_tag.hpp"

using namespace regcache;

namespace {

[[noreturn]] void fail(const std::string& why, const std::string& key) {
  std::fprintf(stderr, "fuzz_key_tag: %s (key of %zu bytes)\n", why.c_str(), key.size());
  std::abort();
}

// The OCI layout's ref.name grammar, restricted to what a tag allows.
bool is_ref_name(const std::string& s) {
  static const std::regex re("[A-Za-z0-9]+(([._-]|--)[A-Za-z0-9]+)*");
  return std::regex_match(s, re);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string key(reinterpret_cast<const char*>(data), size);
  if (!validate_key(key).ok()) return 0;
  std::string tag = tag_for_key(key);
  if (!is_valid_tag(tag)) fail("tag is not a valid OCI tag", key);
  if (!is_ref_name(tag)) fail("tag is not a valid ref.name", key);
  if (tag_for_key(key) != tag) fail("tag_for_key is not deterministic", key);
  if (is_valid_tag(key) && is_ref_name(key) && tag != key) fail("a tag-shaped key was hashed", key);
  if (tag != key && tag.size() < 16) fail("a hashed tag lacks its digest", key);
  for (size_t n = 1; n <= key.size(); n = n < 8 ? n + 1 : n * 2) {
    std::string prefix = tag_prefix_for(key.substr(0, n));
    if (tag.compare(0, prefix.size(), prefix) != 0)
      fail("tag does not start with the tag prefix of a key prefix", key);
  }
  // A different key that differs only in its last character gets a different tag.
  std::string other = key;
  other.back() = other.back() == 'a' ? 'b' : 'a';
  if (validate_key(other).ok() && tag_for_key(other) == tag) fail("two keys share a tag", key);
  return 0;
}
