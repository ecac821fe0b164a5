// Finds the credentials for a registry host, first match wins:
//   1. REGCACHE_USERNAME / REGCACHE_PASSWORD
//   2. container auth files, in order: $REGISTRY_AUTH_FILE, podman's auth.json
//      ($XDG_RUNTIME_DIR/containers, ~/.config/containers), docker's config.json
//      ($DOCKER_CONFIG or ~/.docker); in each, credHelpers[host] beats credsStore beats auths
//   3. for ghcr.io: GITHUB_TOKEN (user GITHUB_ACTOR, else "token")
// Anonymous (nullopt) when none applies.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "regcache/util/env.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

struct Credentials {
  std::string username;
  std::string secret;          // password or token; never printed
  std::string identity_token;  // OAuth2 refresh token from `docker login`, when set
};

// How a credential helper runs: bounded in time, with a minimal environment (what
// credential stores need, never the job's other secrets: cli/settings.cpp chooses it).
struct HelperRun {
  std::chrono::milliseconds timeout{30000};
  std::vector<std::string> env;  // "NAME=value"
};

// Whether REGCACHE_USERNAME/REGCACHE_PASSWORD may go to a host: only to the main store's.
enum class EnvCredentials { offered, withheld };

// Looks up credentials for host ("ghcr.io", "127.0.0.1:5000"): the variables when offered,
// then auth files and helpers, which name their hosts; errors only for a broken credential
// helper or auth file, never for "no credentials". A helper running longer than
// run.timeout is killed (an error naming it).
Result<std::optional<Credentials>> find_credentials(const std::string& host, const EnvFn& env,
                                                    const HelperRun& run = {},
                                                    EnvCredentials offer = EnvCredentials::offered);

// Runs `docker-credential-<helper> get` for server (at most 1 MiB of output); nullopt when
// it has none.
Result<std::optional<Credentials>> run_credential_helper(const std::string& helper,
                                                         const std::string& server,
                                                         const HelperRun& run = {});

}  // namespace regcache
