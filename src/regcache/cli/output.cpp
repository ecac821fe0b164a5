#include "regcache/cli/output.hpp"

#include "regcache/util/log.hpp"

#include <cstdio>

namespace regcache {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string counted(uint64_t n, const char* singular, const char* plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

namespace {
bool g_printed = false;
nlohmann::json g_error_fields = nlohmann::json::object();
}  // namespace

void print_line(const std::string& text) {
  const std::string line = printable_line(text);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  g_printed = true;
}

void print_text(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  g_printed = true;
}

bool result_printed() {
  return g_printed;
}

void set_error_fields(nlohmann::json fields) {
  g_error_fields = std::move(fields);
}

std::string error_json(const std::string& message, int exit_code) {
  nlohmann::json j = g_error_fields.is_object() ? g_error_fields : nlohmann::json::object();
  j["result"] = "error";
  j["error"] = message;
  j["exit_code"] = exit_code;
  return json_line(j);
}

std::string json_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace regcache
