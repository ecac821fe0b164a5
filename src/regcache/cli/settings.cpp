#include "regcache/cli/settings.hpp"
#include "regcache/util/clock.hpp"

#include <unistd.h>
#include <charconv>

#include <cstdlib>

#include "regcache/cli/context.hpp"
#include "regcache/util/units.hpp"

namespace regcache {

namespace {

// Reads the variables, each through one small parser that names it in its error.
class EnvReader {
 public:
  explicit EnvReader(const EnvFn& env) : env_(env) {}

  std::string text(const char* name) const { return env_(name).value_or(""); }

  // An absolute path, or "" (a relative one is ignored, as the XDG specification says).
  std::string absolute(const char* name) const {
    std::string v = text(name);
    return !v.empty() && v[0] == '/' ? v : "";
  }

  template <class T>
  Result<std::optional<T>> integer(const char* name, T min, T max) const {
    std::string v = text(name);
    if (v.empty()) return std::optional<T>();
    T out{};
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size() || out < min || out > max) {
      return bad(name, v,
                 "a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return std::optional<T>(out);
  }

  Result<std::optional<uint64_t>> size(const char* name, uint64_t min) const {
    std::string v = text(name);
    if (v.empty()) return std::optional<uint64_t>();
    auto parsed = parse_size(v);
    if (!parsed.ok() || *parsed < min)
      return bad(name, v, "a size of at least " + std::to_string(min) + " bytes (e.g. 8MiB)");
    return std::optional<uint64_t>(*parsed);
  }

  Result<std::optional<std::chrono::seconds>> duration(const char* name) const {
    std::string v = text(name);
    if (v.empty()) return std::optional<std::chrono::seconds>();
    auto parsed = parse_duration(v);
    if (!parsed.ok()) return bad(name, v, "a duration such as 3600, 90m or 1h");
    return std::optional<std::chrono::seconds>(*parsed);
  }

  Result<double> seconds(const char* name, double fallback) const {
    std::string v = text(name);
    if (v.empty()) return fallback;
    auto d = parse_seconds(v);
    if (!d.ok() || !(*d > 0) || *d > 86400) return bad(name, v, "a number of seconds");
    return *d;
  }

  template <class E>
  Result<E> choice(const char* name, std::initializer_list<std::pair<const char*, E>> values,
                   E fallback) const {
    std::string v = text(name);
    if (v.empty()) return fallback;
    std::string names;
    for (const auto& [word, value] : values) {
      if (v == word) return value;
      names += std::string(names.empty() ? "" : ", ") + word;
    }
    return bad(name, v, "one of " + names);
  }

  // An RFC 3339 time, or "" when unset.
  Result<std::string> time(const char* name) const {
    std::string v = text(name);
    if (!v.empty() && !parse_rfc3339(v)) return bad(name, v, "a time such as 2026-01-31T12:00:00Z");
    return v;
  }

 private:
  static Error bad(const char* name, const std::string& value, const std::string& want) {
    std::string shown = value.size() > 40 ? value.substr(0, 40) + "…" : value;
    return make_error(ErrorKind::usage, std::string(name) + "='" + shown + "' is not " + want);
  }
  const EnvFn& env_;
};

std::string state_file_of(const EnvReader& r, const std::string& home) {
  if (!r.text("REGCACHE_STATE_FILE").empty()) return r.text("REGCACHE_STATE_FILE");
  if (!r.absolute("RUNNER_TEMP").empty()) return r.absolute("RUNNER_TEMP") + "/regcache-state.json";
  std::string base = r.absolute("XDG_STATE_HOME");
  if (base.empty() && !home.empty()) base = home + "/.local/state";
  return base.empty() ? "" : base + "/regcache/restored.json";
}

// Beside an explicit state file; else in the state home, not in $RUNNER_TEMP: a runner
// empties that for every job, and records are worth most from one job to the next.
std::string file_records_of(const EnvReader& r, const std::string& home) {
  const std::string state = r.text("REGCACHE_STATE_FILE");
  if (!state.empty()) {
    auto slash = state.rfind('/');
    return slash == std::string::npos ? "regcache-files"
                                      : state.substr(0, slash + 1) + "regcache-files";
  }
  std::string base = r.absolute("XDG_STATE_HOME");
  if (base.empty() && !home.empty()) base = home + "/.local/state";
  return base.empty() ? "" : base + "/regcache/files";
}

}  // namespace

Result<Settings> read_settings(const EnvFn& env) {
  EnvReader r(env);
  Settings s;
  s.env = env;
  s.home = r.absolute("HOME");
  s.cache_home = r.absolute("XDG_CACHE_HOME");
  if (s.cache_home.empty() && !s.home.empty()) s.cache_home = s.home + "/.cache";
  s.tmpdir = r.absolute("TMPDIR");
  if (s.tmpdir.empty()) s.tmpdir = "/tmp";
  s.state_file = state_file_of(r, s.home);
  s.file_records = file_records_of(r, s.home);
  // The CI's checkout, first match wins (--workspace beats all of them).
  for (const char* var : {"GITHUB_WORKSPACE", "CI_PROJECT_DIR", "BUILDKITE_BUILD_CHECKOUT_PATH",
                          "BITBUCKET_CLONE_DIR", "CIRCLE_WORKING_DIRECTORY", "DRONE_WORKSPACE"}) {
    if (s.workspace.empty()) {
      s.workspace = r.text(var);
      if (!s.workspace.empty()) s.workspace_variable = var;
    }
  }
  s.store = r.text("REGCACHE_STORE");
  s.ca = {r.text("REGCACHE_CA_FILE"), r.text("SSL_CERT_FILE"), r.text("SSL_CERT_DIR")};
  s.retry_delay_ms = RC_TRY(r.integer<int>("REGCACHE_RETRY_DELAY_MS", 0, 60000));
  s.stall_seconds = RC_TRY(r.integer<long>("REGCACHE_STALL_TIMEOUT", 1, 3600));
  s.upload_chunk = RC_TRY(r.size("REGCACHE_UPLOAD_CHUNK", 1024));
  s.jobs = RC_TRY(r.integer<size_t>("REGCACHE_JOBS", 1, 64));
  s.cpu_jobs = RC_TRY(r.integer<size_t>("REGCACHE_CPU_JOBS", 1, 256));
  s.pack_size = RC_TRY(r.size("REGCACHE_PACK_SIZE", 4096));
  if (auto grace = RC_TRY(r.duration("REGCACHE_GC_GRACE"))) s.gc_grace = *grace;
  s.loopback = RC_TRY(r.choice<LoopbackTransport>(
      "REGCACHE_LOOPBACK_TRANSPORT",
      {{"https", LoopbackTransport::https}, {"http", LoopbackTransport::http}},
      LoopbackTransport::probe));
  s.track_usage = RC_TRY(r.choice<UsageTracking>(
      "REGCACHE_TRACK_USAGE", {{"1", UsageTracking::on}, {"0", UsageTracking::off}},
      UsageTracking::automatic));
  s.lookup_index = RC_TRY(r.choice<LookupIndexChoice>(
      "REGCACHE_LOOKUP_INDEX", {{"1", LookupIndexChoice::on}, {"0", LookupIndexChoice::off}},
      LookupIndexChoice::automatic));
  s.deltas = RC_TRY(r.choice<DeltaLayers>("REGCACHE_DELTAS",
                                          {{"1", DeltaLayers::allowed}, {"0", DeltaLayers::never}},
                                          DeltaLayers::allowed));
  if (!r.text("REGCACHE_GITHUB_API_URL").empty())
    s.github_api_url = r.text("REGCACHE_GITHUB_API_URL");
  s.github_registry = r.text("REGCACHE_GITHUB_REGISTRY");
  s.github_token = r.text("GITHUB_TOKEN");
  s.signing_key = r.text("REGCACHE_SIGNING_KEY");
  s.local_cache = r.text("REGCACHE_LOCAL_CACHE");
  s.local_cache_max = r.text("REGCACHE_LOCAL_CACHE_MAX");
  s.verify_keys = r.text("REGCACHE_VERIFY_KEYS");
  s.progress = RC_TRY(r.choice<ProgressChoice>("REGCACHE_PROGRESS",
                                               {{"off", ProgressChoice::off},
                                                {"bar", ProgressChoice::bar},
                                                {"lines", ProgressChoice::lines}},
                                               ProgressChoice::automatic));
  double interval = RC_TRY(r.seconds("REGCACHE_PROGRESS_INTERVAL", 5.0));
  s.progress_interval =
      std::chrono::milliseconds(static_cast<long>(std::max(0.05, interval) * 1000));
  s.dumb_terminal = r.text("TERM") == "dumb";
  s.step_summary = r.text("GITHUB_STEP_SUMMARY");
  s.now = RC_TRY(r.time("REGCACHE_NOW"));
  return s;
}

namespace {

// Picks from the process environment what a credential helper gets (see Settings).
std::vector<std::string> helper_environment(char** environ_list) {
  static const char* names[] = {"PATH",
                                "HOME",
                                "USER",
                                "LOGNAME",
                                "XDG_RUNTIME_DIR",
                                "XDG_CONFIG_HOME",
                                "XDG_DATA_HOME",
                                "DBUS_SESSION_BUS_ADDRESS",
                                "GNUPGHOME",
                                "PASSWORD_STORE_DIR",
                                "DOCKER_CONFIG",
                                "TMPDIR",
                                "LANG"};
  static const char* prefixes[] = {"AWS_", "GOOGLE_", "CLOUDSDK_", "AZURE_"};
  std::vector<std::string> out;
  for (char** e = environ_list; e && *e; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    bool keep = false;
    for (const char* n : names) keep = keep || name == n;
    for (const char* p : prefixes) keep = keep || name.rfind(p, 0) == 0;
    if (keep) out.push_back(entry);
  }
  return out;
}

}  // namespace

EnvFn process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
}

const Settings& settings() {
  static const Settings s = [] {
    static const EnvFn env = process_env();
    Settings read = unwrap(read_settings(env));
    read.helper_env = helper_environment(environ);
    // REGCACHE_NOW pins the clock (tests of prune and of recorded times); every command
    // reads its settings before it looks at the clock.
    if (!read.now.empty()) set_fixed_time(parse_rfc3339(read.now));
    // The signing key stays with regcache: no process it starts (credential helpers,
    // hashCommand, cargo metadata) inherits it.
    ::unsetenv("REGCACHE_SIGNING_KEY");
    return read;
  }();
  return s;
}

}  // namespace regcache
