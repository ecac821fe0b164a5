#include "regcache/cli/context.hpp"

#include <algorithm>
#include <cstdlib>

#include "regcache/store/memory/memory_store.hpp"
#include "regcache/store/oci_layout/layout_store.hpp"
#include "regcache/store/registry/github_packages.hpp"
#include "regcache/store/registry/registry_store.hpp"
#include "regcache/store/store_ref.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// The home directory: $HOME (made absolute in main when it came from the passwd entry), or
// "" when there is none.
std::string home_dir() {
  std::string h = env_or("HOME", "");
  return !h.empty() && h[0] == '/' ? h : "";
}

// The default store: oci:$XDG_CACHE_HOME/regcache, else oci:~/.cache/regcache. A relative
// XDG_CACHE_HOME is ignored, as the XDG base directory specification says.
std::string default_store() {
  std::string xdg = env_or("XDG_CACHE_HOME", "");
  if (!xdg.empty() && xdg[0] == '/') return "oci:" + xdg + "/regcache";
  if (home_dir().empty()) {
    throw CommandError(1,
                       "no home directory for the default store (HOME is unset and this user has "
                       "none in the passwd database): pass --store or set REGCACHE_STORE");
  }
  return "oci:" + home_dir() + "/.cache/regcache";
}

// Decides between https and plain http for a host: https unless the host is loopback or
// --insecure was given and it does not speak TLS.
Transport choose_transport(const StoreRef& ref, bool insecure) {
  if (!insecure && !is_loopback_host(ref.host)) return Transport::https;
  HttpClient probe(TlsOptions{TlsVerify::off, ""});
  HttpRequest req{"GET", "https://" + ref.host + "/v2/"};
  auto r = probe.perform(req);
  return r.ok() ? Transport::https : Transport::http;
}

}  // namespace

size_t jobs_from_env(size_t fallback) {
  const char* v = std::getenv("REGCACHE_JOBS");
  if (!v || !*v) return fallback;
  return std::clamp<size_t>(std::strtoul(v, nullptr, 10), 1, 64);
}

size_t cpu_jobs_from_env(size_t fallback) {
  const char* v = std::getenv("REGCACHE_CPU_JOBS");
  if (!v || !*v) return fallback;
  return std::clamp<size_t>(std::strtoul(v, nullptr, 10), 1, 256);
}

int exit_code_for(const Error& e) {
  if (e.kind == ErrorKind::usage) return 2;
  if (e.kind == ErrorKind::interrupted) return 128 + (interrupt_signal() ? interrupt_signal() : 2);
  return 1;
}

void unwrap(Status s) {
  if (!s.ok()) throw CommandError(exit_code_for(s.error()), s.error().message);
}

void apply_verbosity(const GlobalOptions& g) {
  set_verbosity(g.quiet ? Verbosity::quiet : g.verbose ? Verbosity::verbose : Verbosity::normal);
}

Anchors resolve_anchors(const GlobalOptions& g) {
  // Priority: --workspace > CI variables naming the checkout > the current directory.
  std::string ws = g.workspace;
  for (const char* var : {"GITHUB_WORKSPACE", "CI_PROJECT_DIR", "BUILDKITE_BUILD_CHECKOUT_PATH",
                          "BITBUCKET_CLONE_DIR", "CIRCLE_WORKING_DIRECTORY", "DRONE_WORKSPACE"}) {
    if (!ws.empty()) break;
    ws = env_or(var, "");
  }
  if (ws.empty()) ws.assign(1, '.');  // (not `= "."`: a false -Wrestrict in GCC 12 -O3)
  Anchors a;
  if (!home_dir().empty()) a.home = unwrap(absolute_path(home_dir(), ""));
  a.workspace = unwrap(absolute_path(ws, a.home));
  return a;
}

StoreRef selected_store_ref(const GlobalOptions& g) {
  // Priority: --store > REGCACHE_STORE > the default local layout.
  std::string text = !g.store.empty() ? g.store : env_or("REGCACHE_STORE", "");
  if (text.empty()) text = default_store();
  StoreRef ref = unwrap(parse_store_ref(text));
  if (ref.kind == StoreKind::layout) ref.path = unwrap(absolute_path(ref.path, home_dir()));
  return ref;
}

std::unique_ptr<Store> open_store(const GlobalOptions& g, StoreUse use) {
  StoreRef ref = selected_store_ref(g);
  if (ref.kind == StoreKind::layout && use == StoreUse::read) {
    auto store = open_layout_store(ref.path, LayoutOpen::existing);
    if (store.ok()) return std::move(store).value();
    if (store.error().kind != ErrorKind::not_found) unwrap(Status(store.error()));
    log_warning(store.error().message);  // "no store at oci:PATH": nothing to read, nothing made
    return make_memory_store("oci:" + ref.path);
  }
  if (ref.kind == StoreKind::layout) return unwrap(open_layout_store(ref.path));
  RegistryOptions opts;
  opts.tls.ca_file = env_or("REGCACHE_CA_FILE", env_or("SSL_CERT_FILE", ""));
  if (g.insecure) {
    log_warning("--insecure: TLS certificates of " + ref.host +
                " are not verified and plain HTTP is allowed");
    opts.tls.verify = TlsVerify::off;
  }
  opts.transport = choose_transport(ref, g.insecure);
  if (const char* v = std::getenv("REGCACHE_RETRY_DELAY_MS"); v && *v)
    opts.retry_delay_ms = std::clamp(std::atoi(v), 0, 60000);
  if (const char* v = std::getenv("REGCACHE_STALL_TIMEOUT"); v && *v)
    opts.stall_seconds = std::clamp(std::atol(v), 1L, 3600L);
  if (g.timeout_seconds > 0) {
    opts.deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(g.timeout_seconds));
  }
  if (const char* c = std::getenv("REGCACHE_UPLOAD_CHUNK")) {
    opts.chunk_threshold = opts.chunk_size =
        std::max<uint64_t>(1024, std::strtoull(c, nullptr, 10));
  }
  auto creds = unwrap(find_credentials(ref.host, process_env()));
  log_verbose("store " + ref.host + "/" + ref.repository + " over " +
              (opts.transport == Transport::https ? "https" : "http") +
              (creds ? " with credentials" : " anonymously"));
  if (is_github_packages_host(ref.host)) {
    GithubPackagesOptions gh;
    gh.api_url = env_or("REGCACHE_GITHUB_API_URL", gh.api_url);
    gh.token = env_or("GITHUB_TOKEN", creds ? creds->secret : "");
    gh.tls = opts.tls;
    return wrap_github_packages(make_registry_store(ref, std::move(creds), opts), ref,
                                std::move(gh));
  }
  return make_registry_store(ref, std::move(creds), opts);
}

}  // namespace regcache
