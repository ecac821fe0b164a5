#include "regcache/format/entry_format.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "regcache/format/descriptor_json.hpp"
#include "regcache/util/clock.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

using nlohmann::json;

namespace {

Result<Descriptor> parse_descriptor(const json& j, const char* what) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::integrity, std::string("malformed manifest: ") + what + " " + why);
  };
  if (!j.is_object()) return bad("is not an object");
  Descriptor d;
  if (!j.contains("digest") || !j["digest"].is_string()) return bad("has no digest");
  d.digest = j["digest"].get<std::string>();
  if (!is_valid_digest(d.digest))
    return bad("has an unsupported digest: " + d.digest.substr(0, 80));
  if (!j.contains("size") || !j["size"].is_number_unsigned()) return bad("has no valid size");
  d.size = j["size"].get<uint64_t>();
  if (j.contains("mediaType") && j["mediaType"].is_string()) d.media_type = j["mediaType"];
  if (j.contains("annotations") && j["annotations"].is_object()) {
    for (auto& [k, v] : j["annotations"].items()) {
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
    }
  }
  return d;
}

// "" (no annotation) gives 0; anything but plain decimal digits that fit gives UINT64_MAX,
// which every bound a reader applies then refuses ("-5" must not wrap around).
uint64_t to_u64(const std::string& s) {
  if (s.empty()) return 0;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return UINT64_MAX;
  return v;
}

}  // namespace

std::string build_config(const std::vector<LayerInfo>& layers, std::string_view file_list) {
  json diff_ids = json::array();
  for (const auto& l : layers) diff_ids.push_back(l.diff_id);
  json j = {{"architecture", "amd64"},
            {"os", "linux"},
            {"config", json::object()},
            {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  std::string out = j.dump();
  if (file_list.empty()) return out;
  // Spliced in rather than dumped: base64 needs no escaping, and the list is most of the
  // config (dumping it went character by character).
  out.pop_back();  // the closing brace
  out += ",\"";
  out += kConfigFileList;
  out += "\":\"";
  out += file_list;
  out += "\"}";
  return out;
}

std::string build_manifest(const EntryInfo& e) {
  json layers = json::array();
  for (const auto& l : e.layers) layers.push_back(descriptor_json(l));
  json roots = e.roots;
  json j = {{"schemaVersion", 2},
            {"mediaType", kOciManifest},
            {"config", descriptor_json(e.config)},
            {"layers", layers},
            {"annotations",
             {{kAnnoCreated, e.created},
              {kAnnoKey, e.key},
              {kAnnoFormat, kFormatVersion},
              {kAnnoRoots, roots.dump()},
              {kAnnoFiles, std::to_string(e.files)},
              {kAnnoSize, std::to_string(e.size)},
              {kAnnoPackTarget, std::to_string(e.pack_target)}}}};
  if (!e.ref.empty()) j["annotations"][kAnnoRef] = e.ref;
  if (!e.commit.empty()) j["annotations"][kAnnoCommit] = e.commit;
  return j.dump();
}

bool is_delta_layer(const Descriptor& layer) {
  auto it = layer.annotations.find(kAnnoDelta);
  return it != layer.annotations.end() && it->second == "true";
}

std::optional<uint64_t> declared_tar_size(const Descriptor& layer) {
  auto it = layer.annotations.find(kAnnoPackSize);
  if (it == layer.annotations.end()) return std::nullopt;
  const std::string& v = it->second;
  uint64_t size = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), size);
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return size;
}

Result<EntryInfo> parse_manifest(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorKind::integrity, "malformed manifest: not a JSON object");
  }
  if (!j.contains("schemaVersion") || j["schemaVersion"] != 2) {
    return make_error(ErrorKind::integrity, "malformed manifest: schemaVersion is not 2");
  }
  std::string mt = kOciManifest;
  if (j.contains("mediaType")) {
    if (!j["mediaType"].is_string())
      return make_error(ErrorKind::integrity, "malformed manifest: mediaType is not a string");
    mt = j["mediaType"].get<std::string>();
  }
  if (mt != kOciManifest && mt != kDockerManifest) {
    return make_error(ErrorKind::integrity, "not an image manifest: " + mt.substr(0, 100));
  }
  EntryInfo e;
  if (!j.contains("config"))
    return make_error(ErrorKind::integrity, "malformed manifest: no config");
  e.config = RC_TRY(parse_descriptor(j["config"], "config"));
  if (!j.contains("layers") || !j["layers"].is_array()) {
    return make_error(ErrorKind::integrity, "malformed manifest: no layers array");
  }
  for (const auto& l : j["layers"]) e.layers.push_back(RC_TRY(parse_descriptor(l, "layer")));
  if (j.contains("annotations") && j["annotations"].is_object()) {
    const auto& a = j["annotations"];
    auto str = [&](const char* k) {
      return a.contains(k) && a[k].is_string() ? a[k].get<std::string>() : std::string();
    };
    e.key = str(kAnnoKey);
    e.created = str(kAnnoCreated);
    e.files = to_u64(str(kAnnoFiles));
    e.size = to_u64(str(kAnnoSize));
    e.pack_target = to_u64(str(kAnnoPackTarget));
    e.ref = str(kAnnoRef);
    e.commit = str(kAnnoCommit);
    json roots = json::parse(str(kAnnoRoots), nullptr, false);
    if (roots.is_array()) {
      for (const auto& r : roots) {
        if (r.is_string()) e.roots.push_back(r.get<std::string>());
      }
    }
  }
  return e;
}

Result<ImageConfig> parse_config(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("rootfs") || !j["rootfs"].is_object() ||
      !j["rootfs"].contains("diff_ids") || !j["rootfs"]["diff_ids"].is_array()) {
    return make_error(ErrorKind::integrity, "malformed image config: no rootfs.diff_ids");
  }
  ImageConfig c;
  for (const auto& d : j["rootfs"]["diff_ids"])
    c.diff_ids.push_back(d.is_string() ? d.get<std::string>() : "");
  if (auto it = j.find(kConfigFileList); it != j.end()) {
    if (it->is_string()) {
      c.file_list = std::move(it->get_ref<std::string&>());
    } else {
      c.file_list = make_error(ErrorKind::integrity, "malformed file list in the image config");
    }
  }
  return c;
}

Result<std::vector<std::string>> parse_config_diff_ids(const std::string& text) {
  return RC_TRY(parse_config(text)).diff_ids;
}

Result<std::string> parse_config_file_list(const std::string& text) {
  return RC_TRY(parse_config(text)).file_list;
}

std::string now_rfc3339() {
  return format_rfc3339(current_time());
}

}  // namespace regcache
