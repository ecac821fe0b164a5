// Fuzz target for the WWW-Authenticate parser: any header value gives a challenge or an
// error (never a crash, hang or exception); a parsed challenge has a lower-case scheme
// and parameter names; a challenge printed back in canonical form parses to itself.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "regcache/store/registry/auth.hpp"

using namespace regcache;

namespace {

[[noreturn]] void fail(const char* why) {
  std::fprintf(stderr, "fuzz_challenge: %s\n", why);
  std::abort();
}

bool lower_case(const std::string& s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

// Prints a challenge as `Scheme name="value",...`, escaping quotes and backslashes.
std::string print(const Challenge& c) {
  std::string out = c.scheme;
  char sep = ' ';
  for (const auto& [name, value] : c.params) {
    out += sep + name + "=\"";
    for (char ch : value) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
    sep = ',';
  }
  return out;
}

// Names and schemes that the canonical form can carry unchanged.
bool printable(const Challenge& c) {
  auto plain = [](const std::string& s) {
    for (char ch : s) {
      if (ch == ' ' || ch == ',' || ch == '=' || ch == '"' || ch == '\n' || ch == '\\')
        return false;
    }
    return !s.empty();
  };
  if (!plain(c.scheme)) return false;
  for (const auto& [name, value] : c.params) {
    if (!plain(name) || value.find('\n') != std::string::npos) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string header(reinterpret_cast<const char*>(data), size);
  auto c = parse_challenge(header);
  if (!c.ok()) return 0;
  if (c->scheme.empty() || !lower_case(c->scheme)) fail("scheme is empty or not lower-case");
  for (const auto& [name, value] : c->params) {
    if (!lower_case(name)) fail("parameter name is not lower-case");
  }
  if (printable(*c)) {
    auto again = parse_challenge(print(*c));
    if (!again.ok() || again->scheme != c->scheme || again->params != c->params)
      fail("canonical form does not parse back to the same challenge");
  }
  return 0;
}
