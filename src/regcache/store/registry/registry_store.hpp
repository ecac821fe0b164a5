// A Store on one repository of an OCI distribution registry (HTTP API v2).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "regcache/store/registry/credentials.hpp"
#include "regcache/store/registry/http_client.hpp"
#include "regcache/store/registry/proxy_env.hpp"
#include "regcache/store/store.hpp"
#include "regcache/store/store_ref.hpp"

namespace regcache {

enum class Transport { https, http };

struct RegistryOptions {
  Transport transport = Transport::https;  // http only for loopback hosts or --insecure
  TlsOptions tls;
  ProxyEnv proxies;  // named in the errors of requests that could not go through
  uint64_t chunk_threshold = 1ull << 30;  // blobs larger than this upload in PATCH chunks
  uint64_t chunk_size = 64ull << 20;
  int max_attempts = 5;              // per logical operation (store/registry/retry.hpp)
  int retry_delay_ms = 250;          // first backoff delay; doubles per attempt, with jitter
  long stall_seconds = 30;           // a transfer without progress for this long is retried
  std::string staging_dir = "/tmp";  // where blobs to upload are staged ($TMPDIR)
  LookupIndexUse lookup_index = LookupIndexUse::kept;  // REGCACHE_LOOKUP_INDEX=0: none
  // Every request ends by this time (ErrorKind::timeout after it); none when unset.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // How retries wait (tests record the waits instead); empty: really sleep.
  std::function<Status(std::chrono::steady_clock::time_point)> sleep_until;
  // The clock retries reckon their waits from (tests stop it); empty: steady_clock.
  std::function<std::chrono::steady_clock::time_point()> now;
};

// Returns a store for ref (a registry reference) with the given credentials, speaking
// through `transport` (nullptr: libcurl with options.tls).
std::unique_ptr<Store> make_registry_store(const StoreRef& ref, std::optional<Credentials> creds,
                                           const RegistryOptions& options,
                                           std::shared_ptr<HttpTransport> transport = nullptr);

}  // namespace regcache
