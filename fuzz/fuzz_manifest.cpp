// Fuzz target for the entry format parsers: any text given to parse_manifest,
// parse_config_diff_ids and the lookup index's parse_index_manifest and parse_rows_json
// must give a value or an error (never an exception or a crash), and whatever parses must
// survive a round trip: building the manifest (config, index, rows) from the parsed value
// and parsing that again gives the same value.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "regcache/format/entry_format.hpp"
#include "regcache/format/entry_index_format.hpp"

using namespace regcache;

namespace {

bool same(const Descriptor& a, const Descriptor& b) {
  return a.media_type == b.media_type && a.digest == b.digest && a.size == b.size &&
         a.annotations == b.annotations;
}

bool same(const EntryInfo& a, const EntryInfo& b) {
  if (a.key != b.key || a.created != b.created || a.roots != b.roots || a.files != b.files ||
      a.size != b.size || a.pack_target != b.pack_target || !same(a.config, b.config) ||
      a.layers.size() != b.layers.size())
    return false;
  for (size_t i = 0; i < a.layers.size(); ++i) {
    if (!same(a.layers[i], b.layers[i])) return false;
  }
  return true;
}

[[noreturn]] void fail(const char* why) {
  std::fprintf(stderr, "fuzz_manifest: %s\n", why);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto entry = parse_manifest(text);
  if (entry.ok()) {
    auto again = parse_manifest(build_manifest(*entry));
    if (!again.ok()) fail("a built manifest does not parse");
    if (!same(*entry, *again)) fail("manifest round trip changed the entry");
  }
  auto diff_ids = parse_config_diff_ids(text);
  if (diff_ids.ok()) {
    std::vector<LayerInfo> layers;
    for (const auto& d : *diff_ids) layers.push_back({Descriptor{}, d});
    auto again = parse_config_diff_ids(build_config(layers));
    if (!again.ok() || *again != *diff_ids) fail("config round trip changed the diff_ids");
  }
  auto index = parse_index_manifest(text);
  if (index.ok()) {
    auto again = parse_index_manifest(build_index_manifest(*index, "t"));
    if (!again.ok()) fail("a built index does not parse");
    if (again->inline_rows != index->inline_rows ||
        again->rows_blob.has_value() != index->rows_blob.has_value() ||
        (index->rows_blob && !same(*again->rows_blob, *index->rows_blob)))
      fail("index round trip changed the index");
  }
  auto rows = parse_rows_json(text);
  if (rows.ok()) {
    auto again = parse_rows_json(rows_json(*rows));
    if (!again.ok() || *again != *rows) fail("rows round trip changed the rows");
  }
  return 0;
}
