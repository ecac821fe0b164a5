#include "regcache/store/registry/credentials.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "regcache/util/base64.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/json_fields.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/subprocess.hpp"

namespace regcache {

using nlohmann::json;

namespace {

// The keys under which an auth file may list a host.
std::vector<std::string> host_keys(const std::string& host) {
  std::vector<std::string> keys = {host, "https://" + host, "http://" + host,
                                   "https://" + host + "/v1/", "https://" + host + "/v2/"};
  if (host == "registry-1.docker.io" || host == "docker.io") {
    keys.push_back("https://index.docker.io/v1/");
    keys.push_back("index.docker.io");
  }
  return keys;
}

Result<std::optional<Credentials>> from_auth_file(const std::string& path, const std::string& host,
                                                  const HelperRun& run) {
  auto text = read_file(path);
  if (!text.ok()) return std::optional<Credentials>();  // absent or unreadable: not configured
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorKind::auth, "malformed credentials file " + path);
  }
  if (j.contains("credHelpers") && j["credHelpers"].is_object()) {
    for (const auto& k : host_keys(host)) {
      if (j["credHelpers"].contains(k) && j["credHelpers"][k].is_string()) {
        return run_credential_helper(j["credHelpers"][k].get<std::string>(), k, run);
      }
    }
  }
  if (j.contains("auths") && j["auths"].is_object()) {
    for (const auto& k : host_keys(host)) {
      if (!j["auths"].contains(k)) continue;
      const auto& a = j["auths"][k];
      Credentials c;
      if (a.contains("identitytoken") && a["identitytoken"].is_string()) {
        c.identity_token = a["identitytoken"].get<std::string>();
      }
      if (a.contains("auth") && a["auth"].is_string()) {
        std::string up = base64_decode(a["auth"].get<std::string>()).value_or("");
        auto colon = up.find(':');
        if (colon == std::string::npos) {
          return make_error(ErrorKind::auth, "malformed auth entry for " + k + " in " + path);
        }
        c.username = up.substr(0, colon);
        c.secret = up.substr(colon + 1);
      } else if (a.contains("username") && a.contains("password")) {
        c.username = string_field(a, "username");
        c.secret = string_field(a, "password");
      }
      if (!c.secret.empty() || !c.identity_token.empty()) return std::optional<Credentials>(c);
    }
  }
  if (j.contains("credsStore") && j["credsStore"].is_string()) {
    for (const auto& k : host_keys(host)) {
      auto c = RC_TRY(run_credential_helper(j["credsStore"].get<std::string>(), k, run));
      if (c) return c;
    }
  }
  return std::optional<Credentials>();
}

// Returns ": " and the last line of a helper's error output, or "" when there is none or it
// may hold a secret (a shell trace "+ TOKEN=...", JSON, an assignment, a header, a token).
// Its reply is never shown: a broken helper may have printed one before failing.
std::string said_by(const std::string& err) {
  std::string why = last_lines(err, 1).substr(0, 200);
  std::string lower = why;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : {"secret", "passw", "bearer", "authorization", "{", "=", "ghp_", "ghs_",
                           "github_pat_", "glpat-"})
    if (lower.find(word) != std::string::npos) return "";
  if (why.empty() || why[0] == '+') return "";
  return ": " + why;
}

// Says once per helper that it could not give credentials (other than "not found").
void warn_helper_failed(const std::string& prog, const std::string& server,
                        const std::string& why) {
  static std::mutex mu;
  static std::set<std::string> warned;
  {
    std::lock_guard lock(mu);
    if (!warned.insert(prog).second) return;
  }
  log_warning(prog + " get failed for " + server + " (" + why +
              "); going on without its credentials");
}

}  // namespace

Result<std::optional<Credentials>> run_credential_helper(const std::string& helper,
                                                         const std::string& server,
                                                         const HelperRun& run) {
  for (char c : helper) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return make_error(ErrorKind::auth, "invalid credential helper name: " + helper);
    }
  }
  std::string prog = "docker-credential-" + helper;
  CommandSpec spec;
  spec.argv = {prog, "get"};
  spec.input = server;
  spec.env = run.env;
  spec.timeout = run.timeout;
  spec.max_output = 1 << 20;
  auto r = run_command(spec);
  if (!r.ok()) {
    // A config.json copied from another machine often names a helper this one lacks (a
    // desktop's "desktop"): public repositories still work, and a 401 says the rest.
    if (r.error().kind == ErrorKind::not_found) {
      warn_helper_failed(prog, server, "it is not installed");
      return std::optional<Credentials>();
    }
    return make_error(ErrorKind::auth, "credential helper " + r.error().message);
  }
  if (r->exit_code >= 128) return make_error(ErrorKind::auth, prog + " crashed");
  if (r->exit_code != 0) {
    // The protocol's "not found" is this message; any other failure (an expired cloud
    // login, a locked keychain) is said, or the registry's 401 later would be the only clue.
    if ((r->out + r->err).find("credentials not found") == std::string::npos)
      warn_helper_failed(prog, server, "exit " + std::to_string(r->exit_code) + said_by(r->err));
    return std::optional<Credentials>();
  }
  const std::string& reply = r->out;
  json j = json::parse(reply, nullptr, false);
  if (!j.is_object()) return make_error(ErrorKind::auth, prog + " printed malformed output");
  Credentials c;
  c.username = string_field(j, "Username");
  std::string secret = string_field(j, "Secret");
  if (c.username == "<token>")
    c.identity_token = secret;
  else
    c.secret = secret;
  return std::optional<Credentials>(c);
}

Result<std::optional<Credentials>> find_credentials(const std::string& host, const EnvFn& env,
                                                    const HelperRun& run, EnvCredentials offer) {
  auto user = env("REGCACHE_USERNAME"), pass = env("REGCACHE_PASSWORD");
  if (offer == EnvCredentials::offered && pass && !pass->empty()) {
    return std::optional<Credentials>(Credentials{user.value_or("regcache"), *pass, ""});
  }
  if (offer == EnvCredentials::offered && user && !user->empty())
    log_warning("REGCACHE_USERNAME is set but REGCACHE_PASSWORD is " +
                std::string(pass ? "empty" : "not") + ": not using them");
  std::vector<std::string> files;
  if (auto f = env("REGISTRY_AUTH_FILE")) files.push_back(*f);
  if (auto r = env("XDG_RUNTIME_DIR")) files.push_back(*r + "/containers/auth.json");
  auto home = env("HOME");
  if (home && (home->empty() || (*home)[0] != '/')) home.reset();
  if (auto x = env("XDG_CONFIG_HOME"); x && !x->empty() && (*x)[0] == '/')
    files.push_back(*x + "/containers/auth.json");
  else if (home)
    files.push_back(*home + "/.config/containers/auth.json");
  if (auto d = env("DOCKER_CONFIG"))
    files.push_back(*d + "/config.json");
  else if (home)
    files.push_back(*home + "/.docker/config.json");
  for (const auto& f : files) {
    auto c = RC_TRY(from_auth_file(f, host, run));
    if (c) return c;
  }
  // GitLab CI: the job's registry credentials, for the project's own registry.
  if (auto reg = env("CI_REGISTRY"); reg && *reg == host) {
    auto u = env("CI_REGISTRY_USER"), p = env("CI_REGISTRY_PASSWORD");
    if (u && p && !p->empty()) return std::optional<Credentials>(Credentials{*u, *p, ""});
  }
  if (host == "ghcr.io") {
    if (auto tok = env("GITHUB_TOKEN"); tok && !tok->empty()) {
      return std::optional<Credentials>(
          Credentials{env("GITHUB_ACTOR").value_or("token"), *tok, ""});
    }
  }
  return std::optional<Credentials>();
}

}  // namespace regcache
