#include "regcache/store/registry/auth.hpp"

#include "regcache/oci/reference.hpp"
#include "regcache/store/registry/retry.hpp"
#include "regcache/store/registry/urls.hpp"
#include "regcache/util/base64.hpp"
#include "regcache/util/json_fields.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "regcache/util/log.hpp"

namespace regcache {

Result<Challenge> parse_challenge(std::string_view h) {
  // A header may carry several challenges on separate lines; take the first we support.
  Challenge best;
  size_t line_start = 0;
  while (line_start <= h.size()) {
    size_t nl = h.find('\n', line_start);
    std::string_view line =
        h.substr(line_start, nl == std::string_view::npos ? h.npos : nl - line_start);
    line_start = nl == std::string_view::npos ? h.size() + 1 : nl + 1;
    size_t sp = line.find(' ');
    Challenge c;
    c.scheme = ascii_lower(std::string(line.substr(0, sp)));
    if (c.scheme.empty()) continue;
    size_t i = sp == std::string_view::npos ? line.size() : sp + 1;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
      size_t eq = line.find('=', i);
      if (eq == std::string_view::npos) break;
      std::string name = ascii_lower(std::string(line.substr(i, eq - i)));
      i = eq + 1;
      std::string value;
      if (i < line.size() && line[i] == '"') {
        ++i;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) ++i;
          value.push_back(line[i++]);
        }
        if (i >= line.size())
          return make_error(ErrorKind::auth, "malformed WWW-Authenticate header");
        ++i;
      } else {
        while (i < line.size() && line[i] != ',') value.push_back(line[i++]);
      }
      c.params[name] = value;
    }
    if (c.scheme == "bearer" || c.scheme == "basic") return c;
    if (best.scheme.empty()) best = c;
  }
  if (best.scheme.empty()) return make_error(ErrorKind::auth, "empty WWW-Authenticate header");
  return best;
}

Result<std::string> parse_token_response(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string token = string_field(j, "token", string_field(j, "access_token"));
  if (token.empty()) return make_error(ErrorKind::auth, "token response without a token");
  // A token goes into a header line: a control character would end it and start another.
  if (std::any_of(token.begin(), token.end(),
                  [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; }))
    return make_error(ErrorKind::hostile, "the token service sent a token with control characters");
  return token;
}

Authorizer::Authorizer(HttpTransport* http, std::optional<Credentials> credentials,
                       std::string registry, RealmScheme realms, FirstRequest first,
                       std::optional<std::chrono::steady_clock::time_point> deadline)
    : http_(http),
      creds_(std::move(credentials)),
      registry_(std::move(registry)),
      realms_(realms),
      deadline_(deadline),
      // An identity token is for a token service only; it is never sent as Basic.
      basic_first_(first == FirstRequest::basic && creds_ && creds_->identity_token.empty() &&
                   !creds_->username.empty()) {}

std::string Authorizer::header_for(const std::string& scope) {
  std::lock_guard lock(mu_);
  const bool basic = scheme_ == Scheme::basic || (scheme_ == Scheme::unknown && basic_first_);
  if (basic && creds_)
    return "Authorization: Basic " + base64_encode(creds_->username + ":" + creds_->secret);
  auto it = tokens_.find(scope);
  return it == tokens_.end() ? std::string() : it->second;
}

Result<std::string> Authorizer::fetch_token(const Challenge& c, const std::string& scope) {
  auto realm = c.params.find("realm");
  if (realm == c.params.end() || realm->second.empty()) {
    return make_error(ErrorKind::auth, registry_ + ": Bearer challenge without a realm");
  }
  std::string url = realm->second;
  const bool plain = url.rfind("http://", 0) == 0;
  if (url.rfind("https://", 0) != 0 &&
      (!plain || realms_ == RealmScheme::https_only ||
       (realms_ == RealmScheme::loopback_http && !is_loopback_host(url_host(url))))) {
    // Basic credentials would cross the network in clear (or go nowhere sensible).
    std::string host = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
    host = host.substr(0, host.find('/'));
    return make_error(
        ErrorKind::hostile,
        registry_ + ": refusing a token realm that is not https (" + redact_url(host) + ")");
  }
  url += url.find('?') == std::string::npos ? "?" : "&";
  if (auto s = c.params.find("service"); s != c.params.end())
    url += "service=" + url_escape(s->second);
  // Several scopes (a mount also needs pull on the source) are separated by spaces.
  for (size_t at = 0; at < scope.size();) {
    size_t end = std::min(scope.find(' ', at), scope.size());
    if (end > at) url += "&scope=" + url_escape(scope.substr(at, end - at));
    at = end + 1;
  }
  HttpRequest req;
  req.url = url;
  HttpBody form;
  if (creds_ && !creds_->identity_token.empty()) {
    req.method = "POST";
    req.url = realm->second;
    form.bytes = "grant_type=refresh_token&client_id=regcache&refresh_token=" +
                 url_escape(creds_->identity_token) + "&scope=" + url_escape(scope);
    if (auto s = c.params.find("service"); s != c.params.end()) {
      form.bytes += "&service=" + url_escape(s->second);
    }
    req.body = &form;
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  } else if (creds_) {
    req.headers.push_back("Authorization: Basic " +
                          base64_encode(creds_->username + ":" + creds_->secret));
  }
  req.timeout_ms = RC_TRY(ms_left(deadline_, registry_ + " token request"));
  auto resp = RC_TRY(http_->perform(req));
  if (resp.status == 401 || resp.status == 403) {
    return make_error(ErrorKind::auth, registry_ + ": the token service refused the credentials" +
                                           std::string(creds_ ? "" : " (none were found)") + " (" +
                                           resp.error_summary() + ")");
  }
  if (resp.status != 200) {
    return make_error(retryable_status(resp.status) ? ErrorKind::network : ErrorKind::auth,
                      registry_ + ": token request failed: " + resp.error_summary());
  }
  auto token = parse_token_response(resp.body);
  if (!token.ok()) return make_error(token.error().kind, registry_ + ": " + token.error().message);
  return "Authorization: Bearer " + *token;
}

Status Authorizer::on_challenge(const std::string& header, const std::string& scope,
                                const std::string& sent) {
  if (header.empty()) {
    return make_error(ErrorKind::auth, registry_ + ": access denied (401 without a challenge)");
  }
  auto c = RC_TRY(parse_challenge(header));
  if (c.scheme == "basic") {
    if (!creds_) {
      return make_error(ErrorKind::auth,
                        registry_ +
                            ": authentication required and no credentials "
                            "found (set REGCACHE_USERNAME/REGCACHE_PASSWORD or log in)");
    }
    std::lock_guard lock(mu_);
    if (sent.rfind("Authorization: Basic ", 0) == 0)
      return make_error(ErrorKind::auth, registry_ + ": the registry refused the credentials");
    scheme_ = Scheme::basic;
    return {};
  }
  if (c.scheme != "bearer") {
    return make_error(ErrorKind::auth, registry_ + ": unsupported auth scheme " + c.scheme);
  }
  {
    // A token for this scope that another request fetched since this one was sent.
    std::lock_guard lock(mu_);
    auto it = tokens_.find(scope);
    if (it != tokens_.end() && it->second != sent) return {};
    if (it != tokens_.end()) tokens_.erase(it);  // the token sent was refused (expired)
  }
  auto token = RC_TRY(fetch_token(c, scope));
  log_verbose("got a token for " + scope);
  std::lock_guard lock(mu_);
  scheme_ = Scheme::bearer;
  tokens_[scope] = token;
  return {};
}

}  // namespace regcache
