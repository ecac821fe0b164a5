// Registry authentication: parses WWW-Authenticate challenges and answers them with
// Basic credentials or Bearer tokens fetched from the challenge's realm, cached per scope.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "regcache/store/registry/credentials.hpp"
#include "regcache/store/registry/http_client.hpp"

namespace regcache {

struct Challenge {
  std::string scheme;                         // lower-case: "basic" or "bearer"
  std::map<std::string, std::string> params;  // lower-case names: realm, service, scope, error
};

// Parses one WWW-Authenticate header value; an error for a malformed one.
Result<Challenge> parse_challenge(std::string_view header);

// Returns the token of a token service's answer ({"token"} or {"access_token"}); an error
// for none, or for one that could not go into a header line.
Result<std::string> parse_token_response(std::string_view body);

// Which token realms credentials may be sent to: https ones only (an https store), also
// plain-http ones on this machine (a store on loopback over plain http), or any (--insecure).
enum class RealmScheme { https_only, loopback_http, any };

// What the first request to the registry carries: nothing until a challenge asks, or the
// Basic credentials at once (saving the round trip of a 401 on registries that take them;
// a token registry answers with its challenge as it would have anyway).
enum class FirstRequest { anonymous, basic };

class Authorizer {
 public:
  // Token requests end by `deadline` when one is set.
  Authorizer(HttpTransport* http, std::optional<Credentials> credentials, std::string registry,
             RealmScheme realms = RealmScheme::https_only,
             FirstRequest first = FirstRequest::anonymous,
             std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);
  // Returns the Authorization header line to send for a scope, or "" for none yet.
  std::string header_for(const std::string& scope);
  // Answers a 401 to a request that carried the Authorization line `sent` ("" for none):
  // fetches a token for scope or switches to Basic. What another request already set up
  // since `sent` was chosen (a newer token, Basic) is kept and used, so requests challenged
  // at the same time do not undo each other. Fails when the challenge cannot be met (no
  // credentials, or the very credentials sent were refused); ErrorKind::network when the
  // token service could not be reached or answered 408, 429 or 5xx (worth another try).
  Status on_challenge(const std::string& www_authenticate, const std::string& scope,
                      const std::string& sent);
  // Returns true when credentials were found for this registry.
  bool has_credentials() const { return creds_.has_value(); }

 private:
  Result<std::string> fetch_token(const Challenge& c, const std::string& scope);
  HttpTransport* http_;
  std::optional<Credentials> creds_;
  std::string registry_;
  RealmScheme realms_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::mutex mu_;
  enum class Scheme { unknown, basic, bearer };
  Scheme scheme_ = Scheme::unknown;
  bool basic_first_ = false;                   // send Basic credentials while the scheme is unknown
  std::map<std::string, std::string> tokens_;  // scope -> "Bearer ..."
};

}  // namespace regcache
