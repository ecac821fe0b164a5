#include "regcache/util/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace regcache {

namespace {
std::atomic<int> g_verbosity{static_cast<int>(Verbosity::normal)};
std::mutex g_mutex;

void emit(std::string_view prefix, std::string_view line) {
  std::string out = printable_line(std::string(prefix) + std::string(line));
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s\n", out.c_str());
}
}  // namespace

std::string printable_line(std::string_view line) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(line.size());
  for (unsigned char c : line) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  // A CI runner takes a line starting with "::" (GitHub) or "##[" (Azure) as a command.
  if (out.rfind("::", 0) == 0 || out.rfind("##[", 0) == 0) out = "regcache: " + out;
  return out;
}

void set_verbosity(Verbosity v) {
  g_verbosity = static_cast<int>(v);
}

Verbosity verbosity() {
  return static_cast<Verbosity>(g_verbosity.load());
}

void log_info(std::string_view line) {
  if (g_verbosity >= static_cast<int>(Verbosity::normal)) emit("", line);
}

void log_verbose(std::string_view line) {
  if (g_verbosity >= static_cast<int>(Verbosity::verbose)) emit("regcache: ", line);
}

void log_warning(std::string_view line) {
  if (g_verbosity >= static_cast<int>(Verbosity::normal)) emit("regcache: warning: ", line);
}

std::string redact_url(std::string_view url) {
  auto scheme_end = url.find("://");
  size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  auto slash = url.find('/', start);
  auto at = url.rfind('@', slash == std::string_view::npos ? url.size() : slash);
  // A query may carry a signature or an upload session's state: never shown.
  auto query = url.find('?');
  std::string_view shown = query == std::string_view::npos ? url : url.substr(0, query);
  std::string tail = query == std::string_view::npos ? "" : "?…";
  if (at == std::string_view::npos || at < start || at > shown.size())
    return std::string(shown) + tail;
  return std::string(shown.substr(0, start)) + std::string(shown.substr(at + 1)) + tail;
}

}  // namespace regcache
