#include "regcache/format/entry_index_format.hpp"

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "regcache/format/descriptor_json.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/format/index_rows_reader.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/oci/empty_blob.hpp"
#include "regcache/oci/media_types.hpp"
#include "regcache/util/json_fields.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

using nlohmann::json;

namespace {

json row_json(const IndexRow& r) {
  json j = {{"digest", r.digest}, {"key", r.key},       {"created", r.created}, {"files", r.files},
            {"size", r.size},     {"stored", r.stored}, {"layers", r.layers}};
  if (!r.ref.empty()) j["ref"] = r.ref;
  if (r.signers) j["signers"] = *r.signers;
  return j;
}

// Returns the size of a row as rows_json writes it, about.
size_t row_bytes(const std::string& tag, const IndexRow& r) {
  return row_json(r).dump().size() + tag.size() + 4;
}

}  // namespace

std::string rows_json(const IndexRows& rows) {
  json j = json::object();
  for (const auto& [tag, row] : rows) j[tag] = row_json(row);
  return json{{"rows", std::move(j)}}.dump();
}

Result<IndexRows> parse_rows_json(const std::string& text) {
  IndexRows out = RC_TRY(read_rows_json(text, kMaxIndexJsonValues));
  if (out.size() > kMaxIndexRows || text.size() > kMaxIndexRowsBytes) keep_newest_rows(&out);
  return out;
}

void keep_newest_rows(IndexRows* rows) {
  std::vector<std::pair<std::string, std::string>> by_age;  // created, tag
  for (const auto& [tag, row] : *rows) by_age.emplace_back(row.created, tag);
  std::sort(by_age.begin(), by_age.end(), std::greater<>());
  size_t kept = 0;
  uint64_t bytes = 16;
  for (const auto& [created, tag] : by_age) {
    bytes += row_bytes(tag, rows->at(tag));
    if (kept == kMaxIndexRows || bytes > kMaxIndexRowsBytes)
      rows->erase(tag);
    else
      ++kept;
  }
}

std::string build_index_manifest(const IndexManifest& index, const std::string& created) {
  json layer = descriptor_json(index.rows_blob.value_or(oci_empty_descriptor()));
  json j = {
      {"schemaVersion", 2},
      {"mediaType", kOciManifest},
      {"artifactType", kIndexArtifactType},
      {"config", descriptor_json(oci_empty_descriptor())},
      {"layers", json::array({layer})},
      {"annotations", {{kAnnoCreated, created}, {kAnnoIndexRows, rows_json(index.inline_rows)}}}};
  return j.dump();
}

Result<IndexManifest> parse_index_manifest(const std::string& text) {
  auto bad = [](const std::string& why) {
    return make_error(ErrorKind::integrity, "malformed lookup index: " + why);
  };
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return bad("not a JSON object");
  if (string_field(j, "artifactType") != kIndexArtifactType)
    return bad("not a regcache lookup index");
  IndexManifest out;
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array() || layers->size() != 1)
    return bad("it must have exactly one layer");
  const json& l = (*layers)[0];
  const std::string media_type = string_field(l, "mediaType");
  if (media_type == kIndexRowsMediaType) {
    auto size = uint_field(l, "size");
    const std::string digest = string_field(l, "digest");
    if (!size || !is_valid_digest(digest) || *size > kMaxIndexRowsBytes)
      return bad("its rows blob has no valid digest or size");
    out.rows_blob = Descriptor{media_type, digest, *size, {}};
  } else if (media_type != kOciEmpty) {
    return bad("its layer has an unknown media type");
  }
  auto annotations = j.find("annotations");
  if (annotations != j.end() && annotations->is_object()) {
    const std::string rows = string_field(*annotations, kAnnoIndexRows);
    if (!rows.empty()) out.inline_rows = RC_TRY(parse_rows_json(rows));
  }
  return out;
}

}  // namespace regcache
