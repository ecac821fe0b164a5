// ghcr.io refuses DELETE of a manifest (HTTP 405); its images are deleted as "package
// versions" through the GitHub REST API. This Store decorator passes everything to the
// registry store it wraps and, when a manifest delete is refused as unsupported, deletes
// the package version whose name is the manifest digest instead:
//   GET {api}/orgs/{owner}/packages/container/{package}/versions?per_page=100 (then the
//   same under /users/ when the owner is not an org), following Link rel="next" until the
//   digest is found; DELETE .../versions/{id}. The token needs read:packages and
//   delete:packages. The listing is kept for the life of the store (one command).
#pragma once

#include <memory>
#include <string>

#include "regcache/store/registry/http_client.hpp"
#include "regcache/store/registry/proxy_env.hpp"
#include "regcache/store/registry/retry.hpp"
#include "regcache/store/store.hpp"
#include "regcache/store/store_ref.hpp"

namespace regcache {

struct GithubPackagesOptions {
  std::string api_url = "https://api.github.com";  // REGCACHE_GITHUB_API_URL
  std::string token;                               // GITHUB_TOKEN; never printed
  bool track_usage = false;   // keep the usage tag here (each rewrite leaves a version behind)
  bool lookup_index = false;  // keep the lookup index here (likewise)
  RetryPolicy retry;          // the registry's policy (store/registry/retry.hpp)
  std::shared_ptr<HttpTransport> transport;  // nullptr: libcurl with tls
  TlsOptions tls;
  ProxyEnv proxies;  // named in the errors of requests that could not go through
};

// Returns true for ghcr.io and for `extra_host` (REGCACHE_GITHUB_REGISTRY, for tests).
bool is_github_packages_host(const std::string& host, const std::string& extra_host);

// Wraps a registry store of a GitHub Packages repository (OWNER/PACKAGE...).
std::unique_ptr<Store> wrap_github_packages(std::unique_ptr<Store> inner, const StoreRef& ref,
                                            GithubPackagesOptions options);

}  // namespace regcache
