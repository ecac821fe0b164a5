// Each preset is a small function of the environment. Keys put the tool and platform
// first and the lockfile hash last, so the restore-key chain is the key with its last
// parts removed: a changed lockfile restores the newest cache of the same toolchain, then
// of the same platform.
#include "regcache/ecosystems/presets.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "regcache/ecosystems/cargo_units.hpp"
#include "regcache/ecosystems/key_template.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/glob_expand.hpp"
#include "regcache/util/subprocess.hpp"

namespace regcache {

namespace {

std::string get(const PresetEnv& e, const std::string& name, const std::string& fallback) {
  auto v = e.env ? e.env(name) : std::nullopt;
  return v && !v->empty() ? *v : fallback;
}

bool target_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string in_ws(const PresetEnv& e, const std::string& p) {
  return !p.empty() && p[0] == '/' ? p : e.workspace + "/" + p;
}

std::string xdg_cache(const PresetEnv& e) {
  return get(e, "XDG_CACHE_HOME", e.home + "/.cache");
}

// Builds key = prefix + "-" + lock and the chain [prefix + "-"].
void keyed(Preset& p, const std::string& prefix, const std::string& lock) {
  p.key = prefix + "-" + lock;
  p.restore_keys = {prefix + "-"};
}

// Returns `cargo metadata`'s JSON for the workspace's Cargo.toml (offline), or a null
// value when cargo is missing or fails. No shell: the workspace's path is one argument,
// whatever quotes or `$(...)` it holds.
nlohmann::json cargo_metadata(const PresetEnv& e, std::vector<std::string> flags) {
  CommandSpec spec;
  spec.argv = {
      "cargo", "metadata", "--manifest-path", e.workspace + "/Cargo.toml", "--format-version",
      "1",     "--offline"};
  spec.argv.insert(spec.argv.end(), flags.begin(), flags.end());
  spec.timeout = std::chrono::minutes(5);
  spec.max_output = 64 << 20;
  auto r = run_command(spec);
  if (!r.ok() || r->exit_code != 0) return nlohmann::json();
  return nlohmann::json::parse(r->out, nullptr, false);
}

// The workspace's own package and target names: `cargo metadata --no-deps`, else the
// [package] name of the root Cargo.toml.
std::vector<std::string> workspace_crates(const PresetEnv& e) {
  std::set<std::string> names;
  auto j = cargo_metadata(e, {"--no-deps"});
  if (j.is_object() && j.contains("packages") && j["packages"].is_array()) {
    for (const auto& p : j["packages"]) {
      if (p.contains("name") && p["name"].is_string()) names.insert(p["name"].get<std::string>());
      if (!p.contains("targets") || !p["targets"].is_array()) continue;
      for (const auto& t : p["targets"]) {
        if (t.contains("name") && t["name"].is_string()) names.insert(t["name"].get<std::string>());
      }
    }
  } else if (auto toml = read_file(e.workspace + "/Cargo.toml"); toml.ok()) {
    std::smatch m;
    static const std::regex name_re(R"re(\[package\][^\[]*?\n\s*name\s*=\s*"([^"]+)")re");
    if (std::regex_search(toml.value(), m, name_re)) names.insert(m[1]);
  }
  std::set<std::string> both = names;
  for (auto n : names) {  // artifacts use '_' where package names use '-'
    std::replace(n.begin(), n.end(), '-', '_');
    both.insert(n);
  }
  return {both.begin(), both.end()};
}

// Every crate name in the current build's dependency graph (`cargo metadata`, offline),
// in both '-' and '_' spellings; empty when cargo cannot tell (then nothing is dropped).
// --locked: cargo would otherwise rewrite a Cargo.lock it finds out of date, and regcache
// writes nothing of the user's.
std::set<std::string> dependency_graph(const PresetEnv& e) {
  std::set<std::string> names;
  auto j = cargo_metadata(e, {"--locked"});
  if (!j.is_object() || !j.contains("packages") || !j["packages"].is_array()) return names;
  for (const auto& p : j["packages"]) {
    std::vector<std::string> found;
    if (p.contains("name") && p["name"].is_string()) found.push_back(p["name"]);
    if (p.contains("targets") && p["targets"].is_array()) {
      for (const auto& t : p["targets"]) {
        if (t.contains("name") && t["name"].is_string()) found.push_back(t["name"]);
      }
    }
    for (auto n : found) {
      names.insert(n);
      std::replace(n.begin(), n.end(), '-', '_');
      names.insert(n);
    }
  }
  return names;
}

// The crate an artifact belongs to: "libserde_json-0123abcd.rlib" -> "serde_json" (or, for
// crates whose own name starts with "lib", "libc-..." -> "libc"); both readings are tried.
bool artifact_in_graph(const std::string& file, const std::set<std::string>& graph) {
  for (const std::string& candidate : {file, file.rfind("lib", 0) == 0 ? file.substr(3) : file}) {
    auto dash = candidate.rfind('-');
    if (dash != std::string::npos && graph.count(candidate.substr(0, dash))) return true;
  }
  return false;
}

// Artifacts under target/<profile>/{deps,build,.fingerprint} of crates that are no longer
// in the dependency graph (a removed or renamed dependency): nothing in this build can use
// them.
std::vector<std::string> unused_artifacts(const PresetEnv& e, const std::string& target) {
  std::vector<std::string> out;
  auto graph = dependency_graph(e);
  std::vector<std::string> profiles;
  for (const auto& d : expand_glob(target + "/*/deps"))
    profiles.push_back(d.substr(0, d.size() - 5));
  for (const auto& d : expand_glob(target + "/*/*/deps"))
    profiles.push_back(d.substr(0, d.size() - 5));
  out = unused_restored_units(profiles);
  for (const auto& prof : profiles) {
    for (const char* sub : {"/deps/*", "/build/*", "/.fingerprint/*"}) {
      for (const auto& path : expand_glob(prof + sub)) {
        std::string name = path.substr(path.rfind('/') + 1);
        if (!graph.empty() && !artifact_in_graph(name, graph)) out.push_back(path);
      }
    }
  }
  return out;
}

// What the rust preset keeps out of target/ (docs/keys.md explains why each is safe):
// artifacts of crates no longer in the dependency graph, incremental/ directories, and
// every artifact of the workspace's own crates.
std::vector<std::string> rust_excludes(const PresetEnv& e, const std::string& target) {
  std::vector<std::string> out = unused_artifacts(e, target);
  out.push_back(target + "/*/incremental");
  out.push_back(target + "/*/*/incremental");
  for (const auto& c : workspace_crates(e)) {
    for (const std::string& profile : {target + "/*", target + "/*/*"}) {
      for (const std::string& pat :
           {"/deps/" + c + "-*", "/deps/lib" + c + "-*", "/.fingerprint/" + c + "-*",
            "/build/" + c + "-*", "/" + c, "/" + c + ".d", "/lib" + c + ".*"}) {
        out.push_back(profile + pat);
      }
    }
  }
  return out;
}

Preset rust(const PresetEnv& e) {
  Preset p{"rust", "", {}, "", {}};
  std::string cargo = get(e, "CARGO_HOME", e.home + "/.cargo");
  std::string target = in_ws(e, get(e, "CARGO_TARGET_DIR", "target"));
  p.paths = {cargo + "/registry/index", cargo + "/registry/cache", cargo + "/git/db", target};
  p.save_excludes = [e, target] { return rust_excludes(e, target); };
  p.summary =
      "cargo registry index and crate cache, git deps, target/; keyed on rustc -vV, Cargo.lock and "
      "Cargo.toml files";
  keyed(p, "rust-{{ os }}-{{ arch }}-{{ hashCommand \"rustc -vV\" }}",
        "{{ hashFiles \"**/Cargo.lock\" \"**/Cargo.toml\" \"!**/target/**\" }}");
  p.restore_keys.push_back("rust-{{ os }}-{{ arch }}-");
  return p;
}

Preset node(const PresetEnv& e) {
  Preset p{"node", "", {}, "", {}};
  std::string lock_glob;
  if (target_exists(e.workspace + "/pnpm-lock.yaml")) {
    p.paths = {get(e, "PNPM_STORE_DIR",
                   get(e, "XDG_DATA_HOME", e.home + "/.local/share") + "/pnpm/store")};
    lock_glob = "pnpm-lock.yaml";
    p.summary = "pnpm store (pnpm-lock.yaml found)";
  } else if (target_exists(e.workspace + "/yarn.lock")) {
    bool berry = target_exists(e.workspace + "/.yarnrc.yml");
    p.paths = {berry ? in_ws(e, get(e, "YARN_CACHE_FOLDER", ".yarn/cache"))
                     : get(e, "YARN_CACHE_FOLDER", xdg_cache(e) + "/yarn")};
    lock_glob = "yarn.lock";
    p.summary = "yarn cache (yarn.lock found)";
  } else {
    p.paths = {get(e, "npm_config_cache", get(e, "NPM_CONFIG_CACHE", e.home + "/.npm"))};
    lock_glob = "package-lock.json";
    p.summary = "npm cache ~/.npm (package-lock.json)";
  }
  p.summary += "; keyed on the lockfile";
  keyed(p, "node-{{ os }}-{{ arch }}",
        "{{ hashFiles \"**/" + lock_glob + "\" \"!**/node_modules/**\" }}");
  return p;
}

Preset go(const PresetEnv& e) {
  Preset p{"go", "", {}, "", {}};
  std::string gopath = get(e, "GOPATH", e.home + "/go");
  p.paths = {get(e, "GOMODCACHE", gopath + "/pkg/mod"),
             get(e, "GOCACHE", xdg_cache(e) + "/go-build")};
  p.summary = "module cache (GOMODCACHE) and build cache (GOCACHE); keyed on go.sum files";
  keyed(p, "go-{{ os }}-{{ arch }}", "{{ hashFiles \"**/go.sum\" \"!**/vendor/**\" }}");
  return p;
}

Preset python(const PresetEnv& e) {
  Preset p{"python", "", {}, "", {}};
  p.paths = {get(e, "PIP_CACHE_DIR", xdg_cache(e) + "/pip"),
             get(e, "UV_CACHE_DIR", xdg_cache(e) + "/uv"),
             get(e, "POETRY_CACHE_DIR", xdg_cache(e) + "/pypoetry")};
  p.summary =
      "pip, uv and poetry caches; keyed on requirements*.txt, poetry.lock, uv.lock, pyproject.toml";
  keyed(p, "python-{{ os }}-{{ arch }}",
        "{{ hashFiles \"**/requirements*.txt\" \"**/poetry.lock\" \"**/uv.lock\" "
        "\"**/pyproject.toml\" "
        "\"!**/.venv/**\" \"!**/node_modules/**\" }}");
  return p;
}

Preset ccache(const PresetEnv& e) {
  Preset p{"ccache", "", {}, "", {}};
  std::string legacy = e.home + "/.ccache";
  p.paths = {get(e, "CCACHE_DIR", target_exists(legacy) ? legacy : xdg_cache(e) + "/ccache")};
  p.summary = "ccache directory (CCACHE_DIR); a new key every run, restoring the newest";
  keyed(p, "ccache-{{ os }}-{{ arch }}", "{{ now }}");
  return p;
}

Preset gradle(const PresetEnv& e) {
  Preset p{"gradle", "", {}, "", {}};
  std::string home = get(e, "GRADLE_USER_HOME", e.home + "/.gradle");
  p.paths = {home + "/caches", home + "/wrapper"};
  p.summary = "Gradle caches and wrapper; keyed on *.gradle*, gradle-wrapper.properties";
  keyed(p, "gradle-{{ os }}-{{ arch }}",
        "{{ hashFiles \"**/*.gradle*\" \"**/gradle-wrapper.properties\" \"!**/build/**\" }}");
  return p;
}

Preset maven(const PresetEnv& e) {
  Preset p{"maven", "", {}, "", {}};
  p.paths = {get(e, "MAVEN_REPO_LOCAL", e.home + "/.m2/repository")};
  p.summary = "local Maven repository ~/.m2/repository; keyed on pom.xml files";
  keyed(p, "maven-{{ os }}-{{ arch }}", "{{ hashFiles \"**/pom.xml\" \"!**/target/**\" }}");
  return p;
}

const std::map<std::string, std::function<Preset(const PresetEnv&)>>& table() {
  static const std::map<std::string, std::function<Preset(const PresetEnv&)>> t = {
      {"ccache", ccache}, {"go", go},         {"gradle", gradle}, {"maven", maven},
      {"node", node},     {"python", python}, {"rust", rust}};
  return t;
}

}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [n, f] : table()) names.push_back(n);
  return names;
}

Result<Preset> make_preset(const std::string& name, const PresetEnv& env) {
  auto it = table().find(name);
  if (it == table().end()) {
    std::string all;
    for (const auto& n : preset_names()) all += (all.empty() ? "" : ", ") + n;
    return make_error(ErrorKind::usage, "unknown preset '" + name + "' (known: " + all + ")");
  }
  if (!env.home.empty()) return it->second(env);
  // No home directory: a default under it would come out as a path at / (/.cache/ccache).
  // Built with a marker for home, a path holding the marker is one the job must name.
  constexpr const char* kNoHome = "/\x01no-home";
  PresetEnv marked = env;
  marked.home = kNoHome;
  Preset p = it->second(marked);
  for (const auto& path : p.paths) {
    if (path.find(kNoHome) != std::string::npos) {
      return make_error(ErrorKind::usage,
                        "the " + name + " preset caches ~" + path.substr(std::strlen(kNoHome)) +
                            ", but there is no home directory (HOME is unset and this user has "
                            "none in the passwd database): set HOME or the tool's own variable");
    }
  }
  return p;
}

}  // namespace regcache
