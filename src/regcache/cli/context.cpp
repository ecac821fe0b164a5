#include "regcache/cli/context.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "regcache/cli/settings.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/oci/reference.hpp"
#include "regcache/store/memory/memory_store.hpp"
#include "regcache/store/oci_layout/layout_store.hpp"
#include "regcache/store/registry/github_packages.hpp"
#include "regcache/store/registry/registry_store.hpp"
#include "regcache/store/store_ref.hpp"
#include "regcache/store/tiered/local_eviction.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/units.hpp"

namespace regcache {

namespace {

// The default store: oci:$XDG_CACHE_HOME/regcache, else oci:~/.cache/regcache.
std::string default_store() {
  if (settings().cache_home.empty()) {
    throw CommandError(kExitError,
                       "no home directory for the default store (HOME is unset and this user has "
                       "none in the passwd database): pass --store or set REGCACHE_STORE");
  }
  return "oci:" + settings().cache_home + "/regcache";
}

// Decides between https and plain http for a host: https unless the host is loopback or
// --insecure was given and it does not speak TLS.
Transport choose_transport(const StoreRef& ref, bool insecure) {
  if (!insecure && !is_loopback_host(ref.host)) return Transport::https;
  // A loopback registry whose scheme is known needs no probe (REGCACHE_LOOPBACK_TRANSPORT).
  if (settings().loopback == LoopbackTransport::https) return Transport::https;
  if (settings().loopback == LoopbackTransport::http) return Transport::http;
  HttpClient probe(TlsOptions{TlsVerify::off, {}});
  HttpRequest req{"GET", "https://" + ref.host + "/v2/"};
  // A loopback port that accepts and never answers must not hold the command: a
  // registry on this machine answers at once.
  req.timeout_ms = 30000;
  auto r = probe.perform(req);
  return r.ok() ? Transport::https : Transport::http;
}

// The trust anchors for a TLS connection that verifies its peer; none found is an error
// only for a command that needs one.
CaLocations trust_anchors() {
  return unwrap(find_ca_locations(settings().ca));
}

}  // namespace

int exit_code_for(const Error& e) {
  if (e.kind == ErrorKind::usage) return kExitUsage;
  if (e.kind == ErrorKind::interrupted)
    return kExitSignalBase + (interrupt_signal() ? interrupt_signal() : 2);
  return kExitError;
}

void unwrap(Status s) {
  if (!s.ok()) throw CommandError(exit_code_for(s.error()), s.error().message);
}

void apply_verbosity(const GlobalOptions& g) {
  set_verbosity(g.quiet ? Verbosity::quiet : g.verbose ? Verbosity::verbose : Verbosity::normal);
}

Anchors resolve_anchors(const GlobalOptions& g) {
  // Priority: --workspace > CI variables naming the checkout > the current directory.
  std::string ws = !g.workspace.empty() ? g.workspace : settings().workspace;
  if (ws.empty()) ws.assign(1, '.');  // (not `= "."`: a false -Wrestrict in GCC 12 -O3)
  Anchors a;
  if (!settings().home.empty()) a.home = unwrap(absolute_path(settings().home, ""));
  a.workspace = unwrap(absolute_path(ws, a.home));
  // Paths are stored relative to it: one that is not there is a typo or a wrong variable,
  // and a restore would otherwise make the whole missing path.
  struct stat st {};
  const int err = ::stat(a.workspace.c_str(), &st) == 0 ? 0 : errno;
  if (err != 0 || !S_ISDIR(st.st_mode)) {
    const std::string from = !g.workspace.empty()            ? "--workspace"
                             : !settings().workspace.empty() ? settings().workspace_variable
                                                             : "the current directory";
    throw CommandError(kExitUsage, "the workspace " + a.workspace + " (from " + from +
                                       ") is not a directory" +
                                       (err == ENOENT ? " (it does not exist)" : ""));
  }
  auto resolved = [](const std::string& dir) {
    char* real = dir.empty() ? nullptr : ::realpath(dir.c_str(), nullptr);
    std::string out = real && dir != real ? real : "";
    std::free(real);
    return out;
  };
  a.workspace_real = resolved(a.workspace);
  a.home_real = resolved(a.home);
  return a;
}

StoreRef selected_store_ref(const GlobalOptions& g) {
  // Priority: --store > REGCACHE_STORE > the default local layout.
  std::string text = !g.store.empty() ? g.store : settings().store;
  if (text.empty()) text = default_store();
  StoreRef ref = unwrap(parse_store_ref(text));
  if (ref.kind == StoreKind::layout) ref.path = unwrap(absolute_path(ref.path, settings().home));
  return ref;
}

GlobalOptions other_store(const GlobalOptions& g, const std::string& store) {
  GlobalOptions o = g;
  if (!o.credentials_host) {
    StoreRef main = selected_store_ref(g);
    o.credentials_host = main.kind == StoreKind::registry ? main.host : "";
  }
  o.store = store;
  return o;
}

void require_unit(const std::string& option, const std::string& value,
                  const std::string& examples) {
  if (!value.empty() && value.find_first_not_of("0123456789.") == std::string::npos)
    throw CommandError(kExitUsage, option + " " + value + " needs a unit (e.g. " + examples + ")");
}

size_t default_transfers(const GlobalOptions& g, size_t local) {
  StoreRef ref = selected_store_ref(g);
  if (ref.kind != StoreKind::registry || is_loopback_host(ref.host)) return local;
  return kRegistryTransfers;
}

namespace {

TierCounters tier_counters;
bool tier_open = false;

// The local tier's size limit in bytes; nullopt when none is set.
std::optional<uint64_t> local_tier_max(const GlobalOptions& g) {
  std::string max = !g.local_cache_max.empty() ? g.local_cache_max : settings().local_cache_max;
  if (max.empty()) return std::nullopt;
  require_unit("--local-cache-max (or REGCACHE_LOCAL_CACHE_MAX)", max, "500MiB, 5GiB, 5GB");
  auto limit = parse_size(max);
  if (!limit.ok())
    throw CommandError(kExitUsage,
                       "--local-cache-max (or REGCACHE_LOCAL_CACHE_MAX): " + limit.error().message);
  return *limit;
}

std::unique_ptr<Store> open_store_alone(const GlobalOptions& g, StoreUse use);

}  // namespace

std::string local_tier_dir(const GlobalOptions& g) {
  std::string dir = !g.local_cache.empty() ? g.local_cache : settings().local_cache;
  if (dir.rfind("oci:", 0) == 0) dir.erase(0, 4);  // it is a layout: written as a store is
  if (dir.empty() || selected_store_ref(g).kind == StoreKind::layout) return "";
  return unwrap(absolute_path(dir, settings().home));
}

TierCounters* local_tier_counters() {
  return tier_open ? &tier_counters : nullptr;
}

void trim_local_tier(const GlobalOptions& g) {
  std::string dir = local_tier_dir(g);
  auto limit = local_tier_max(g);
  if (dir.empty() || !limit || !tier_open) return;
  auto rep = evict_least_recently_used(dir, *limit);
  if (!rep.ok()) return log_warning("local cache " + dir + ": " + rep.error().message);
  if (rep->removed_blobs)
    log_verbose("local cache: removed " + std::to_string(rep->removed_blobs) +
                " least recently used blobs");
}

std::unique_ptr<Store> open_store(const GlobalOptions& g, StoreUse use) {
  (void)local_tier_max(g);  // a malformed size stops the command before it does anything
  auto remote = open_store_alone(g, use);
  std::string dir = local_tier_dir(g);
  if (dir.empty()) {
    if (!g.local_cache.empty())
      log_warning("--local-cache is for a registry store; " + remote->describe() +
                  " is local already");
    return remote;
  }
  // The tier only saves downloads: one that cannot be opened (a read-only or full disk, a
  // file in the way) leaves the command to the registry, with a warning.
  auto local = open_layout_store(dir, LayoutOpen::create, std::nullopt, LockWait::brief);
  if (!local.ok()) {
    log_warning("local cache " + dir + " cannot be used (" + local.error().message + "); " +
                remote->describe() + " alone serves this command");
    return remote;
  }
  log_verbose("local cache " + dir + " in front of " + remote->describe());
  tier_open = true;
  return make_tiered_store(std::move(remote), std::move(*local), dir, &tier_counters,
                           {kUsageTag, kIndexTag});
}

namespace {

std::unique_ptr<Store> open_store_alone(const GlobalOptions& g, StoreUse use) {
  StoreRef ref = selected_store_ref(g);
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (g.timeout_seconds > 0) {
    deadline = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                   std::chrono::duration<double>(g.timeout_seconds));
  }
  if (ref.kind == StoreKind::layout && use == StoreUse::read) {
    auto store = open_layout_store(ref.path, LayoutOpen::existing, deadline);
    if (store.ok()) return std::move(store).value();
    if (store.error().kind != ErrorKind::not_found) unwrap(Status(store.error()));
    log_warning(store.error().message);  // "no store at oci:PATH": nothing to read, nothing made
    return make_memory_store("oci:" + ref.path, settings().tmpdir);
  }
  if (ref.kind == StoreKind::layout)
    return unwrap(open_layout_store(ref.path, LayoutOpen::create, deadline));
  const Settings& s = settings();
  RegistryOptions opts;
  opts.staging_dir = s.tmpdir;
  if (s.lookup_index == LookupIndexChoice::off) opts.lookup_index = LookupIndexUse::none;
  if (g.insecure) {
    log_warning("--insecure: TLS certificates of " + ref.host +
                " are not verified and plain HTTP is allowed");
    opts.tls.verify = TlsVerify::off;
  }
  opts.transport = choose_transport(ref, g.insecure);
  if (opts.transport == Transport::https && opts.tls.verify == TlsVerify::on)
    opts.tls.ca = trust_anchors();
  opts.retry_delay_ms = s.retry_delay_ms.value_or(opts.retry_delay_ms);
  opts.stall_seconds = s.stall_seconds.value_or(opts.stall_seconds);
  opts.deadline = deadline;
  opts.proxies = ProxyEnv(s.env);
  if (s.upload_chunk) opts.chunk_threshold = opts.chunk_size = *s.upload_chunk;
  // A credential helper that hangs must not outlast the command's own time budget.
  HelperRun helper{std::chrono::seconds(30), s.helper_env};
  if (g.timeout_seconds > 0)
    helper.timeout = std::min(
        helper.timeout, std::chrono::milliseconds(static_cast<long>(g.timeout_seconds * 1000)));
  const EnvCredentials env_creds = !g.credentials_host || *g.credentials_host == ref.host
                                       ? EnvCredentials::offered
                                       : EnvCredentials::withheld;
  auto creds = unwrap(find_credentials(ref.host, s.env, helper, env_creds));
  log_verbose("store " + ref.host + "/" + ref.repository + " over " +
              (opts.transport == Transport::https ? "https" : "http") +
              (creds ? " with credentials" : " anonymously"));
  if (is_github_packages_host(ref.host, s.github_registry)) {
    GithubPackagesOptions gh;
    gh.api_url = s.github_api_url;
    gh.token = !s.github_token.empty() ? s.github_token : creds ? creds->secret : "";
    gh.track_usage = s.track_usage == UsageTracking::on;
    gh.lookup_index = s.lookup_index == LookupIndexChoice::on;
    gh.retry.max_attempts = opts.max_attempts;
    gh.retry.first_delay = std::chrono::milliseconds(opts.retry_delay_ms);
    gh.retry.deadline = opts.deadline;
    // The API client carries GITHUB_TOKEN: --insecure (meant for the registry) never turns
    // its certificate checks off.
    gh.tls = TlsOptions{TlsVerify::on, trust_anchors()};
    gh.proxies = opts.proxies;
    return wrap_github_packages(make_registry_store(ref, std::move(creds), opts), ref,
                                std::move(gh));
  }
  return make_registry_store(ref, std::move(creds), opts);
}

}  // namespace

}  // namespace regcache
