#include "regcache/core/restore_state.hpp"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

namespace {
std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
}  // namespace

std::string state_file_path() {
  if (!env("REGCACHE_STATE_FILE").empty()) return env("REGCACHE_STATE_FILE");
  if (!env("RUNNER_TEMP").empty()) return env("RUNNER_TEMP") + "/regcache-state.json";
  std::string base = env("XDG_STATE_HOME");
  if (base.empty() || base[0] != '/') {  // a relative XDG path is ignored, as the spec says
    if (env("HOME").empty() || env("HOME")[0] != '/') return "";  // no home: nowhere to keep it
    base = env("HOME") + "/.local/state";
  }
  return base + "/regcache/restored.json";
}

void record_restore(const std::string& path, const std::string& store, const RestoredEntry& e) {
  if (path.empty()) {
    log_verbose("no home directory: the restored entry is not recorded for the next save");
    return;
  }
  nlohmann::json j = nlohmann::json::object();
  if (auto text = read_file(path); text.ok()) {
    j = nlohmann::json::parse(text.value(), nullptr, false);
    if (!j.is_object()) j = nlohmann::json::object();
  }
  j[store] = {{"key", e.key}, {"digest", e.digest}};
  auto slash = path.rfind('/');
  Status st = slash == std::string::npos ? Status{} : make_dirs(path.substr(0, slash));
  if (st.ok() && slash != std::string::npos) remove_stale(path.substr(0, slash), kAtomicTempPrefix);
  if (st.ok()) st = write_file_atomic(path, j.dump());
  if (!st.ok()) log_warning("cannot record the restored entry: " + st.error().message);
}

std::optional<RestoredEntry> last_restore(const std::string& path, const std::string& store) {
  if (path.empty()) return std::nullopt;
  auto text = read_file(path);
  if (!text.ok()) return std::nullopt;
  auto j = nlohmann::json::parse(text.value(), nullptr, false);
  if (!j.is_object() || !j.contains(store) || !j[store].is_object()) return std::nullopt;
  RestoredEntry e{j[store].value("key", ""), j[store].value("digest", "")};
  if (e.digest.empty()) return std::nullopt;
  return e;
}

}  // namespace regcache
