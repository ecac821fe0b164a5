// Finds the credentials for a registry host, first match wins:
//   1. REGCACHE_USERNAME / REGCACHE_PASSWORD
//   2. container auth files, in order: $REGISTRY_AUTH_FILE, podman's auth.json
//      ($XDG_RUNTIME_DIR/containers, ~/.config/containers), docker's config.json
//      ($DOCKER_CONFIG or ~/.docker); in each, credHelpers[host] beats credsStore beats auths
//   3. for ghcr.io: GITHUB_TOKEN (user GITHUB_ACTOR, else "token")
// Anonymous (nullopt) when none applies.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "regcache/util/env.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

struct Credentials {
  std::string username;
  std::string secret;          // password or token; never printed
  std::string identity_token;  // OAuth2 refresh token from `docker login`, when set
};

// Reads an environment variable (injectable for tests).

// Looks up credentials for host ("ghcr.io", "127.0.0.1:5000"); errors only for a broken
// credential helper or auth file, never for "no credentials".
Result<std::optional<Credentials>> find_credentials(const std::string& host, const EnvFn& env);

// Runs `docker-credential-<helper> get` for server; nullopt when it has none.
Result<std::optional<Credentials>> run_credential_helper(const std::string& helper,
                                                         const std::string& server);

}  // namespace regcache
