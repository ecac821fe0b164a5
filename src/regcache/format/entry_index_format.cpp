#include "regcache/format/entry_index_format.hpp"

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "regcache/format/descriptor_json.hpp"
#include "regcache/format/entry_format.hpp"
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

// Returns the row j states, or nullopt when a field is missing or of the wrong kind.
std::optional<IndexRow> parse_row(const json& j) {
  if (!j.is_object()) return std::nullopt;
  IndexRow r;
  r.digest = string_field(j, "digest");
  r.key = string_field(j, "key");
  r.created = string_field(j, "created");
  r.ref = string_field(j, "ref");
  if (!is_valid_digest(r.digest) || !validate_key(r.key).ok()) return std::nullopt;
  if (r.created.size() > kMaxIndexFieldChars || r.ref.size() > kMaxIndexFieldChars)
    return std::nullopt;
  auto files = uint_field(j, "files"), size = uint_field(j, "size");
  auto stored = uint_field(j, "stored"), layers = uint_field(j, "layers");
  if (!files || !size || !stored || !layers) return std::nullopt;
  r.files = *files;
  r.size = *size;
  r.stored = *stored;
  r.layers = *layers;
  if (auto it = j.find("signers"); it != j.end()) {
    if (!it->is_array() || it->size() > kMaxIndexSigners) return std::nullopt;
    r.signers.emplace();
    for (const auto& s : *it) {
      if (!s.is_string() || s.get_ref<const std::string&>().size() > kMaxIndexFieldChars)
        return std::nullopt;
      r.signers->push_back(s.get<std::string>());
    }
  }
  return r;
}

// Counts the values of a JSON text without building it, and stops past a limit: a small
// hostile text ("[0,0,0,...]") would otherwise take many times its size in memory.
class ValueCounter : public nlohmann::json_sax<json> {
 public:
  explicit ValueCounter(size_t limit) : limit_(limit) {}
  bool null() override { return count(); }
  bool boolean(bool) override { return count(); }
  bool number_integer(number_integer_t) override { return count(); }
  bool number_unsigned(number_unsigned_t) override { return count(); }
  bool number_float(number_float_t, const string_t&) override { return count(); }
  bool string(string_t&) override { return count(); }
  bool binary(binary_t&) override { return count(); }
  bool start_object(std::size_t) override { return count(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return count(); }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool count() { return ++n_ <= limit_; }
  size_t limit_, n_ = 0;
};

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
  ValueCounter counter(kMaxIndexJsonValues);
  if (!json::sax_parse(text, &counter, json::input_format_t::json, false))
    return make_error(ErrorKind::integrity, "malformed or oversized lookup index rows");
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("rows") || !j["rows"].is_object())
    return make_error(ErrorKind::integrity, "malformed lookup index rows");
  IndexRows out;
  for (const auto& [tag, value] : j["rows"].items()) {
    if (!is_valid_tag(tag)) continue;
    if (auto row = parse_row(value)) out.emplace(tag, std::move(*row));
  }
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
