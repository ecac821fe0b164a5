// What every command shares: the global options, and how a command reports failure
// (CommandError, thrown only here at the command boundary and caught in main).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "regcache/cli/exit_codes.hpp"
#include "regcache/format/anchor.hpp"
#include "regcache/store/store.hpp"
#include "regcache/store/store_ref.hpp"
#include "regcache/store/tiered/tiered_store.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

struct GlobalOptions {
  std::string store;  // --store / REGCACHE_STORE / the default layout
  bool json = false;
  bool quiet = false;
  int verbose = 0;
  bool insecure = false;
  std::string workspace;
  std::string summary;          // --summary FILE (else $GITHUB_STEP_SUMMARY)
  double timeout_seconds = 0;   // registry requests end after this (restore --timeout); 0: none
  std::string local_cache;      // --local-cache DIR / REGCACHE_LOCAL_CACHE: a local tier
  std::string local_cache_max;  // --local-cache-max SIZE / REGCACHE_LOCAL_CACHE_MAX
  // The host REGCACHE_USERNAME/REGCACHE_PASSWORD belong to, once a command opens a second
  // registry (other_store); unset: the store being opened is the main one.
  std::optional<std::string> credentials_host;
};

// Returns g opening `store` instead (an image to import, a --base-store): the variables'
// credentials stay with the main store's registry and go to no other host.
GlobalOptions other_store(const GlobalOptions& g, const std::string& store);

// A failure that ends the command with an exit code (1 error, 2 usage, 3 miss).
struct CommandError : std::runtime_error {
  CommandError(int code, const std::string& message)
      : std::runtime_error(message), exit_code(code) {}
  int exit_code;
};

// Throws a usage error when `value` of `option` is a bare number: where a unit decides the
// meaning (a size in bytes or GiB, a duration in seconds or days), none is taken as meant.
void require_unit(const std::string& option, const std::string& value, const std::string& examples);

// Returns the exit code for an error: 2 for usage errors, 128 + the signal for a
// cancellation (130 SIGINT, 143 SIGTERM), else 1.
int exit_code_for(const Error& e);

// Returns the value or throws the error as a CommandError with its exit code.
template <class T>
T unwrap(Result<T> r) {
  if (!r.ok()) throw CommandError(exit_code_for(r.error()), r.error().message);
  return std::move(r).value();
}

// Throws the error as a CommandError.
void unwrap(Status s);

// Applies -q/-v; every command calls it first.
void apply_verbosity(const GlobalOptions& g);

// Returns the workspace and home directories from options and environment.
Anchors resolve_anchors(const GlobalOptions& g);

// What a command does with its store: writing creates a local layout that is absent;
// reading (and deleting) finds an absent layout empty, saying "no store at oci:PATH".
enum class StoreUse { write, read };

// Opens the store the options name. A store on ghcr.io (or $REGCACHE_GITHUB_REGISTRY)
// deletes through the GitHub Packages API.
std::unique_ptr<Store> open_store(const GlobalOptions& g, StoreUse use);

// Returns the local tier's directory (absolute) when the store is a registry and a local
// tier is asked for, else "".
std::string local_tier_dir(const GlobalOptions& g);

// Returns the blob byte counts of the local tier that open_store set up, or nullptr.
TierCounters* local_tier_counters();

// Keeps the local tier under --local-cache-max, if one is set (a warning on failure).
void trim_local_tier(const GlobalOptions& g);

// Returns the parsed store reference the options name (a layout path made absolute).
StoreRef selected_store_ref(const GlobalOptions& g);

// How many transfers run at once unless REGCACHE_JOBS says: kRegistryTransfers for a
// registry, whose requests each wait a round trip away; `local` for a layout or a registry
// on this machine (a loopback address), bound by this machine's disk and cores.
inline constexpr size_t kRegistryTransfers = 16;
size_t default_transfers(const GlobalOptions& g, size_t local);

}  // namespace regcache
