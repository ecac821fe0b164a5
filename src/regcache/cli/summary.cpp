#include "regcache/cli/summary.hpp"

#include <fmt/format.h>

#include <fstream>

#include "regcache/cli/output.hpp"
#include "regcache/cli/settings.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

// Keeps a key from breaking the table: pipes escaped, backticks and newlines dropped.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c != '`' && c != '\n' && c != '\r')
      out += c;
  }
  return out.empty() ? "–" : "`" + out + "`";
}

}  // namespace

std::string summary_path(const GlobalOptions& g) {
  return !g.summary.empty() ? g.summary : settings().step_summary;
}

std::string summary_markdown(const SummaryRow& r) {
  double rate = r.seconds > 0 ? static_cast<double>(r.transferred) / r.seconds : 0;
  std::string transferred = human_bytes(r.transferred);
  std::string reused =
      r.command == "save" ? fmt::format("{} of {}", r.reused_layers, r.layers) : std::string("–");
  return fmt::format(
      "### regcache {}\n\n"
      "| key | result | matched key | files | size | {} | reused layers | time | throughput "
      "|\n"
      "|---|---|---|---:|---:|---:|---:|---:|---:|\n"
      "| {} | {} | {} | {} | {} | {} | {} | {:.2f} s | {}/s |\n\n",
      r.command, r.command == "save" ? "uploaded" : "downloaded", cell(r.key), r.result,
      cell(r.matched_key), r.files, human_bytes(r.bytes), transferred, reused, r.seconds,
      human_bytes(static_cast<uint64_t>(rate)));
}

void append_summary(const GlobalOptions& g, const SummaryRow& row) {
  std::string path = summary_path(g);
  if (path.empty()) return;
  std::ofstream out(path, std::ios::app);
  out << summary_markdown(row);
  out.flush();
  if (!out) log_warning("cannot append the job summary to " + path);
}

}  // namespace regcache
