// Fuzz target for what registries and token services answer: any body gives a list of
// typed errors, a one-line summary and a token or an error (never a crash, hang or
// exception); a token never holds a control character; summaries stay bounded.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "regcache/store/registry/auth.hpp"
#include "regcache/store/registry/http_client.hpp"
#include "regcache/store/registry/registry_errors.hpp"

using namespace regcache;

namespace {

[[noreturn]] void fail(const char* why) {
  std::fprintf(stderr, "fuzz_registry_reply: %s\n", why);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  auto errors = parse_registry_errors(body);
  if (errors.size() > 16) fail("more errors than the cap");
  for (const auto& e : errors) {
    if (e.code_text.size() > 600 || e.message.size() > 600 || e.detail.size() > 600)
      fail("an unbounded field");
  }
  HttpResponse r;
  r.status = 500;
  r.body = body;
  std::string summary = r.error_summary();
  if (summary.rfind("HTTP 500", 0) != 0 || summary.size() > 1400) fail("a malformed summary");
  auto token = parse_token_response(body);
  if (token.ok()) {
    if (token->empty()) fail("an empty token");
    for (unsigned char c : *token) {
      if (c < 0x20 || c == 0x7f) fail("a token with a control character");
    }
  }
  return 0;
}
