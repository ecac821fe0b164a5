#include "regcache/core/restore_state.hpp"

#include "regcache/util/json_fields.hpp"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

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
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;  // no FIFO
  auto text = read_file(path);
  if (!text.ok()) return std::nullopt;
  auto j = nlohmann::json::parse(text.value(), nullptr, false);
  if (!j.is_object() || !j.contains(store) || !j[store].is_object()) return std::nullopt;
  RestoredEntry e{string_field(j[store], "key"), string_field(j[store], "digest")};
  if (!is_valid_digest(e.digest)) return std::nullopt;  // it goes into a request's path
  return e;
}

}  // namespace regcache
