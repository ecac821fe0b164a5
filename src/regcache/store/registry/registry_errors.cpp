#include "regcache/store/registry/registry_errors.hpp"

#include <nlohmann/json.hpp>

#include "regcache/util/json_fields.hpp"

namespace regcache {

namespace {

constexpr size_t kMaxErrors = 16;
constexpr size_t kMaxText = 512;

RegistryCode code_of(const std::string& text) {
  static const std::pair<const char*, RegistryCode> codes[] = {
      {"BLOB_UNKNOWN", RegistryCode::blob_unknown},
      {"BLOB_UPLOAD_INVALID", RegistryCode::blob_upload_invalid},
      {"BLOB_UPLOAD_UNKNOWN", RegistryCode::blob_upload_unknown},
      {"DIGEST_INVALID", RegistryCode::digest_invalid},
      {"MANIFEST_BLOB_UNKNOWN", RegistryCode::manifest_blob_unknown},
      {"MANIFEST_INVALID", RegistryCode::manifest_invalid},
      {"MANIFEST_UNKNOWN", RegistryCode::manifest_unknown},
      {"NAME_INVALID", RegistryCode::name_invalid},
      {"NAME_UNKNOWN", RegistryCode::name_unknown},
      {"SIZE_INVALID", RegistryCode::size_invalid},
      {"UNAUTHORIZED", RegistryCode::unauthorized},
      {"DENIED", RegistryCode::denied},
      {"UNSUPPORTED", RegistryCode::unsupported},
      {"TOOMANYREQUESTS", RegistryCode::too_many_requests},
      {"TAG_INVALID", RegistryCode::tag_invalid},
  };
  for (const auto& [name, code] : codes) {
    if (text == name) return code;
  }
  return RegistryCode::other;
}

std::string clipped(std::string s) {
  if (s.size() > kMaxText) s = s.substr(0, kMaxText) + "…";
  return s;
}

}  // namespace

std::vector<RegistryError> parse_registry_errors(std::string_view body) {
  std::vector<RegistryError> out;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return out;
  auto it = j.find("errors");
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (out.size() == kMaxErrors) break;
    if (!e.is_object()) continue;
    RegistryError r;
    r.code_text = clipped(string_field(e, "code"));
    r.code = code_of(r.code_text);
    r.message = clipped(string_field(e, "message"));
    if (auto d = e.find("detail"); d != e.end() && !d->is_null())
      r.detail = clipped(d->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    out.push_back(std::move(r));
  }
  return out;
}

bool has_code(const std::vector<RegistryError>& errors, RegistryCode code) {
  for (const auto& e : errors) {
    if (e.code == code) return true;
  }
  return false;
}

}  // namespace regcache
