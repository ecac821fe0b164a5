// Every environment variable regcache reads, read once and checked (ccache's environment
// table is the model): lower layers take these values as parameters and never read the
// environment. A malformed value is a usage error that names the variable.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "regcache/core/save.hpp"
#include "regcache/store/registry/ca_bundle.hpp"
#include "regcache/util/env.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

enum class ProgressChoice { automatic, off, bar, lines };  // REGCACHE_PROGRESS
enum class UsageTracking { automatic, on, off };           // REGCACHE_TRACK_USAGE
enum class LookupIndexChoice { automatic, on, off };       // REGCACHE_LOOKUP_INDEX
enum class LoopbackTransport { probe, https, http };       // REGCACHE_LOOPBACK_TRANSPORT

struct Settings {
  // Places.
  std::string home;          // $HOME when absolute (main takes the passwd entry's when unset)
  std::string cache_home;    // $XDG_CACHE_HOME when absolute, else ~/.cache, else ""
  std::string tmpdir;        // $TMPDIR, else /tmp
  std::string state_file;    // where a restore records its entry for the next save; "" none
  std::string file_records;  // where saves keep their file records (core/file_records.hpp)
  std::string workspace;     // the CI's checkout ($GITHUB_WORKSPACE, $CI_PROJECT_DIR, …), or ""
  std::string workspace_variable;  // the variable that named it
  // The store and its transport.
  std::string store;            // REGCACHE_STORE
  std::string local_cache;      // REGCACHE_LOCAL_CACHE: a local tier's directory
  std::string local_cache_max;  // REGCACHE_LOCAL_CACHE_MAX: its size limit
  CaVariables ca;               // REGCACHE_CA_FILE, SSL_CERT_FILE, SSL_CERT_DIR
  LoopbackTransport loopback = LoopbackTransport::probe;  // a loopback registry: probe TLS
  std::optional<int> retry_delay_ms;                      // REGCACHE_RETRY_DELAY_MS
  std::optional<long> stall_seconds;                      // REGCACHE_STALL_TIMEOUT
  std::optional<uint64_t> upload_chunk;                   // REGCACHE_UPLOAD_CHUNK (bytes)
  std::optional<size_t> jobs;                             // REGCACHE_JOBS: transfers at once
  std::optional<size_t> cpu_jobs;       // REGCACHE_CPU_JOBS: packs compressed at once
  std::optional<uint64_t> pack_size;    // REGCACHE_PACK_SIZE (bytes)
  std::chrono::seconds gc_grace{3600};  // REGCACHE_GC_GRACE
  UsageTracking track_usage = UsageTracking::automatic;
  LookupIndexChoice lookup_index = LookupIndexChoice::automatic;
  DeltaLayers deltas = DeltaLayers::allowed;              // REGCACHE_DELTAS=0: saves stack no delta
  std::string github_api_url = "https://api.github.com";  // REGCACHE_GITHUB_API_URL
  std::string github_registry;                            // REGCACHE_GITHUB_REGISTRY
  std::string github_token;                               // GITHUB_TOKEN
  // Signatures (docs/format.md): PEM text, as CI secrets hold keys; never printed.
  std::string signing_key;  // REGCACHE_SIGNING_KEY: a private key
  std::string verify_keys;  // REGCACHE_VERIFY_KEYS: one or more public keys
  // Output.
  ProgressChoice progress = ProgressChoice::automatic;
  std::chrono::milliseconds progress_interval{5000};  // REGCACHE_PROGRESS_INTERVAL (seconds)
  bool dumb_terminal = false;                         // TERM=dumb
  std::string step_summary;                           // GITHUB_STEP_SUMMARY
  std::string now;                                    // REGCACHE_NOW (tests: a fixed clock)
  // The whole environment, for what reads variables by name (templates, credentials).
  EnvFn env;
  // What a docker credential helper gets: its home, a session bus, a keyring, cloud SDK
  // settings (AWS_*, GOOGLE_*, CLOUDSDK_*, AZURE_*), never the job's other secrets.
  std::vector<std::string> helper_env;
};

// Reads and checks the settings from `env`; the error names the first malformed variable.
Result<Settings> read_settings(const EnvFn& env);

// Returns the process environment as an EnvFn.
EnvFn process_env();

// Returns this process's settings, read at the first call (throws CommandError, exit 2,
// for a malformed variable).
const Settings& settings();

}  // namespace regcache
