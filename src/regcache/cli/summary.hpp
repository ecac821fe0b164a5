// The job summary: save and restore append a Markdown table to $GITHUB_STEP_SUMMARY (or
// --summary FILE), so a CI run page shows what the cache did.
#pragma once

#include <cstdint>
#include <string>

#include "regcache/cli/context.hpp"

namespace regcache {

struct SummaryRow {
  std::string command;  // "save" or "restore"
  std::string key, result, matched_key;
  uint64_t files = 0, bytes = 0, transferred = 0, layers = 0, reused_layers = 0;
  double seconds = 0;
};

// Returns the file to append to: --summary, else $GITHUB_STEP_SUMMARY, else empty.
std::string summary_path(const GlobalOptions& g);

// Formats the table (header and one row) for a result.
std::string summary_markdown(const SummaryRow& row);

// Appends the table to the summary file, if any; a failure is a warning, never an error.
void append_summary(const GlobalOptions& g, const SummaryRow& row);

}  // namespace regcache
