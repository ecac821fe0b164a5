// The transport policy against a scripted transport: exact attempt counts per logical
// operation (resumes and upload restarts included), Retry-After honoured and capped, typed
// registry error codes, and replies that would once have thrown.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <set>

#include "regcache/store/registry/github_packages.hpp"
#include "regcache/store/registry/registry_store.hpp"
#include "regcache/util/sha256.hpp"

using namespace regcache;

namespace {

// Answers requests with a script and records them.
class ScriptedTransport : public HttpTransport {
 public:
  using Script = std::function<Result<HttpResponse>(const HttpRequest&, int nth)>;
  explicit ScriptedTransport(Script s) : script_(std::move(s)) {}
  Result<HttpResponse> perform(const HttpRequest& req) override {
    std::lock_guard lock(mu_);
    seen.push_back(req.method + " " + req.url +
                   (req.range_from ? " range=" + std::to_string(req.range_from) : ""));
    return script_(req, static_cast<int>(seen.size()));
  }
  int count(const std::string& method) const {
    int n = 0;
    for (const auto& s : seen) n += s.rfind(method + " ", 0) == 0;
    return n;
  }
  std::vector<std::string> seen;

 private:
  Script script_;
  std::mutex mu_;
};

HttpResponse status(long s, std::string body = "",
                    std::map<std::string, std::string> headers = {}) {
  HttpResponse r;
  r.status = s;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

// Delivers `bytes` to the request's sink as a 2xx body would.
HttpResponse deliver(const HttpRequest& req, long s, const std::string& bytes,
                     std::map<std::string, std::string> headers = {}) {
  if (req.sink) {
    EXPECT_TRUE(req.sink->write(bytes.data(), bytes.size()).ok());
  }
  auto r = status(s, "", std::move(headers));
  r.sink_bytes = bytes.size();
  return r;
}

// The repository every scripted store here stands for.
StoreRef test_ref() {
  StoreRef ref;
  ref.kind = StoreKind::registry;
  ref.host = "registry.test";
  ref.repository = "team/cache";
  return ref;
}

// The time a stopped clock shows.
const SteadyTime kStoppedClock = SteadyTime{} + std::chrono::hours(1);

struct Fixture {
  std::vector<std::chrono::milliseconds> waits;
  std::shared_ptr<ScriptedTransport> transport;
  std::unique_ptr<Store> store;

  explicit Fixture(ScriptedTransport::Script script, Transport scheme = Transport::http) {
    transport = std::make_shared<ScriptedTransport>(std::move(script));
    RegistryOptions o;
    o.transport = scheme;
    // registry.test is not loopback: plain HTTP to it is what --insecure allows.
    if (scheme == Transport::http) o.tls.verify = TlsVerify::off;
    // A stopped clock: each recorded wait is exactly the policy's.
    o.now = [] { return kStoppedClock; };
    o.sleep_until = [this](std::chrono::steady_clock::time_point t) {
      waits.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(t - kStoppedClock));
      return Status{};
    };
    StoreRef ref = test_ref();
    store = make_registry_store(ref, std::nullopt, o, transport);
  }
};

const std::string kBlob = "0123456789abcdefghij0123456789abcdefghij";
Descriptor blob_descriptor() {
  return {"application/octet-stream", sha256_digest(kBlob), kBlob.size(), {}};
}

// GitHub Packages options for the API at https://api.test over `transport`.
GithubPackagesOptions github_options(std::shared_ptr<ScriptedTransport> transport) {
  GithubPackagesOptions gh;
  gh.api_url = "https://api.test";
  gh.token = "ghs_token";
  gh.transport = std::move(transport);
  return gh;
}

// A GitHub Packages store of registry.test/acme/app, registry and API over `transport`.
std::unique_ptr<Store> github_store(std::shared_ptr<ScriptedTransport> transport,
                                    GithubPackagesOptions gh) {
  RegistryOptions o;
  o.transport = Transport::https;
  StoreRef ref;
  ref.kind = StoreKind::registry;
  ref.host = "registry.test";
  ref.repository = "acme/app";
  return wrap_github_packages(make_registry_store(ref, std::nullopt, o, transport), ref,
                              std::move(gh));
}

}  // namespace

TEST(RetryPolicy, ATransientStatusIsTriedFiveTimesInAll) {
  Fixture f([](const HttpRequest&, int) { return status(503); });
  StringSink out;
  Status st = f.store->get_blob(blob_descriptor(), &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(f.transport->count("GET"), 5);
  EXPECT_EQ(f.waits.size(), 4u);
  // Exponential: each wait longer than the one before (jitter is ±25%, the factor 2).
  for (size_t i = 1; i < f.waits.size(); ++i) EXPECT_GT(f.waits[i], f.waits[i - 1]);
}

TEST(RetryPolicy, PermanentFailuresAreNotRetried) {
  Fixture f(
      [](const HttpRequest&, int) { return status(403, R"({"errors":[{"code":"DENIED"}]})"); });
  StringSink out;
  Status st = f.store->get_blob(blob_descriptor(), &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::auth);
  EXPECT_EQ(f.transport->count("GET"), 1);
}

TEST(RetryPolicy, ResumedDownloadsDrawFromTheSameBudget) {
  // Every GET delivers 8 bytes and is then cut: 5 attempts in all, each resuming further.
  Fixture f([](const HttpRequest& req, int) -> Result<HttpResponse> {
    std::string part = kBlob.substr(req.range_from, 8);
    if (req.sink) {
      EXPECT_TRUE(req.sink->write(part.data(), part.size()).ok());
    }
    return make_error(ErrorKind::network, "connection reset");
  });
  StringSink out;
  ASSERT_FALSE(f.store->get_blob(blob_descriptor(), &out).ok());
  EXPECT_EQ(f.transport->count("GET"), 5);
  EXPECT_EQ(out.str(), kBlob) << "each resume asked for the next range";
}

TEST(RetryPolicy, AResumedDownloadCompletes) {
  Fixture f([](const HttpRequest& req, int nth) -> Result<HttpResponse> {
    if (nth == 1) {
      std::string part = kBlob.substr(0, 10);
      EXPECT_TRUE(req.sink->write(part.data(), part.size()).ok());
      return make_error(ErrorKind::network, "connection reset");
    }
    EXPECT_EQ(req.range_from, 10u);
    return deliver(req, 206, kBlob.substr(10), {{"content-range", "bytes 10-39/40"}});
  });
  StringSink out;
  ASSERT_TRUE(f.store->get_blob(blob_descriptor(), &out).ok());
  EXPECT_EQ(out.str(), kBlob);
  EXPECT_EQ(f.transport->count("GET"), 2);
}

TEST(RetryPolicy, UploadRestartsShareTheBudget) {
  // The session opens, the PUT of the body fails every time: five attempts, not 5 × 5.
  Fixture f([](const HttpRequest& req, int) {
    if (req.method == "HEAD") return status(404);
    if (req.method == "POST")
      return status(202, "", {{"location", "/v2/team/cache/blobs/uploads/u1"}});
    return status(500);
  });
  Status st = f.store->put_blob(blob_descriptor(), {"", kBlob});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(f.transport->count("PUT"), 5);
  EXPECT_EQ(f.transport->count("POST"), 5);
  // And a POST that always fails: five POSTs, no multiplication through the restart loop.
  Fixture g([](const HttpRequest&, int) { return status(503); });
  ASSERT_FALSE(g.store->put_blob(blob_descriptor(), {"", kBlob}).ok());
  EXPECT_EQ(g.transport->count("POST"), 5);
}

TEST(RetryPolicy, RetryAfterIsHonouredAndCapped) {
  Fixture f([](const HttpRequest& req, int nth) {
    if (nth == 1) return status(429, "", {{"retry-after", "7"}});
    if (nth == 2) return status(429, "", {{"retry-after", std::string(400, '9')}});  // once a crash
    return deliver(req, 200, kBlob);
  });
  StringSink out;
  ASSERT_TRUE(f.store->get_blob(blob_descriptor(), &out).ok());
  ASSERT_EQ(f.waits.size(), 2u);
  EXPECT_EQ(f.waits[0].count(), 7000);
  EXPECT_EQ(f.waits[1].count(), 30000);  // capped
}

TEST(RetryPolicy, ErrorCodesAreComparedExactly) {
  // MANIFEST_BLOB_UNKNOWN: a blob is missing, not a race: one PUT, a not_found error.
  Fixture f([](const HttpRequest&, int) {
    return status(
        400,
        R"({"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]})");
  });
  auto put = f.store->put_manifest("k", "{}", "application/vnd.oci.image.manifest.v1+json");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().kind, ErrorKind::not_found);
  EXPECT_EQ(f.transport->count("PUT"), 1);
  // BLOB_UNKNOWN while a concurrent upload relinks the blob: retried, then it works.
  Fixture g([](const HttpRequest&, int nth) {
    return nth < 3 ? status(400, R"({"errors":[{"code":"BLOB_UNKNOWN"}]})") : status(201);
  });
  ASSERT_TRUE(g.store->put_manifest("k", "{}", "application/vnd.oci.image.manifest.v1+json").ok());
  EXPECT_EQ(g.transport->count("PUT"), 3);
}

TEST(RetryPolicy, MalformedRepliesAreMessagesNotCrashes) {
  for (const std::string& body : std::vector<std::string>{
           R"({"errors":[{"code":123,"message":{"x":1}}]})", R"({"errors":"x"})",
           R"({"errors":[{"code":"BLOB_UNKNOWN",)", std::string(100000, '['), R"({"details":7})"}) {
    Fixture f([body](const HttpRequest&, int) { return status(500, body); });
    StringSink out;
    Status st = f.store->get_blob(blob_descriptor(), &out);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("HTTP 500"), std::string::npos) << st.error().message;
  }
  Fixture tags([](const HttpRequest& req, int) {
    return deliver(req, 200, R"({"tags":[1,{"a":2},"ok"]})");
  });
  auto listed = tags.store->list_tags();
  ASSERT_FALSE(listed.ok()) << "tags that are not strings are a malformed list";
  EXPECT_NE(listed.error().message.find("malformed tag list"), std::string::npos)
      << listed.error().message;
  for (const std::string body : {R"({"tags":null})", R"({"name":"team/cache"})"}) {
    Fixture empty([body](const HttpRequest& req, int) { return deliver(req, 200, body); });
    auto none = empty.store->list_tags();
    ASSERT_TRUE(none.ok()) << body << ": distribution's answer for a repository without tags";
    EXPECT_TRUE(none.value().empty());
  }
}

TEST(RetryPolicy, TokenRealmsAndTokensAreChecked) {
  // An https store whose challenge names a plain-http realm: credentials never go there.
  Fixture f(
      [](const HttpRequest& req, int) {
        if (req.url.rfind("https://registry.test/v2/", 0) == 0)
          return status(
              401, "",
              {{"www-authenticate", R"(Bearer realm="http://auth.test/token",service="s")"}});
        return status(200, R"({"token":"t"})");
      },
      Transport::https);
  StringSink out;
  Status st = f.store->get_blob(blob_descriptor(), &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("not https"), std::string::npos) << st.error().message;
  EXPECT_EQ(f.transport->seen.size(), 1u) << "the realm was never asked";
  // A token with CR/LF would add header lines of its own.
  Fixture g([](const HttpRequest& req, int) {
    if (req.url.rfind("http://registry.test/v2/", 0) == 0)
      return status(401, "",
                    {{"www-authenticate", R"(Bearer realm="http://registry.test/token")"}});
    return status(200, "{\"token\":\"abc\\r\\nX-Evil: 1\"}");
  });
  st = g.store->get_blob(blob_descriptor(), &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("control characters"), std::string::npos) << st.error().message;
  Fixture h([](const HttpRequest& req, int) {
    if (req.url.rfind("http://registry.test/v2/", 0) == 0)
      return status(401, "",
                    {{"www-authenticate", R"(Bearer realm="http://registry.test/token")"}});
    return status(200, R"({"token":12345})");
  });
  st = h.store->get_blob(blob_descriptor(), &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("without a token"), std::string::npos) << st.error().message;
}

// A token service answering 503 (or not reachable) is tried again under the operation's
// budget, as the registry is; its request ends by the command's deadline.
// Retry-After as an HTTP-date is the wait until that time, capped like the seconds form.
TEST(RetryPolicy, RetryAfterAsAnHttpDate) {
  RetryPolicy p;
  p.wall_now = [] { return time_t{1793000000}; };  // 2026-10-26T07:33:20Z
  EXPECT_EQ(retry_delay(p, 1, "Mon, 26 Oct 2026 07:33:40 GMT"), std::chrono::milliseconds(20000));
  EXPECT_EQ(retry_delay(p, 1, "Mon, 26 Oct 2026 07:33:00 GMT"), std::chrono::milliseconds(0));
  EXPECT_EQ(retry_delay(p, 1, "Mon, 26 Oct 2026 09:00:00 GMT"), p.max_delay);
}

TEST(RetryPolicy, TokenServiceHiccupsAreRetried) {
  std::vector<long> token_timeouts;
  int token_calls = 0;
  Fixture f([&](const HttpRequest& req, int) -> Result<HttpResponse> {
    if (req.url.rfind("http://registry.test/token", 0) == 0) {
      token_timeouts.push_back(req.timeout_ms);
      if (++token_calls == 1) return status(503, "busy");
      if (token_calls == 2) return make_error(ErrorKind::network, "connection reset");
      return status(200, R"({"token":"t"})");
    }
    bool has_token = false;
    for (const auto& h : req.headers) has_token |= h == "Authorization: Bearer t";
    if (!has_token)
      return status(401, "",
                    {{"www-authenticate", R"(Bearer realm="http://registry.test/token")"}});
    return deliver(req, 200, kBlob);
  });
  StringSink out;
  Status st = f.store->get_blob(blob_descriptor(), &out);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(out.str(), kBlob);
  EXPECT_EQ(token_calls, 3);
  EXPECT_EQ(f.waits.size(), 2u) << "two waits of the retry policy before the third try";
}

TEST(RetryPolicy, TokenRequestsEndByTheDeadline) {
  auto transport = std::make_shared<ScriptedTransport>([](const HttpRequest& req, int) {
    if (req.url.rfind("http://registry.test/token", 0) == 0) {
      EXPECT_GT(req.timeout_ms, 0) << "a token request without the deadline";
      EXPECT_LE(req.timeout_ms, 60000);
      return status(200, R"({"token":"t"})");
    }
    for (const auto& h : req.headers)
      if (h == "Authorization: Bearer t") return deliver(req, 200, kBlob);
    return status(401, "", {{"www-authenticate", R"(Bearer realm="http://registry.test/token")"}});
  });
  RegistryOptions o;
  o.transport = Transport::http;
  o.tls.verify = TlsVerify::off;
  o.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto store = make_registry_store(test_ref(), std::nullopt, o, transport);
  StringSink out;
  ASSERT_TRUE(store->get_blob(blob_descriptor(), &out).ok());
  EXPECT_EQ(transport->count("GET"), 3);
}

// A store on this machine over plain HTTP may use a plain-HTTP realm on this machine, not
// one across the network: Basic credentials would cross it in clear.
TEST(RetryPolicy, APlainHttpRealmMustBeOnThisMachineToo) {
  for (const std::string realm : {"http://192.0.2.2/token", "http://127.0.0.1:6000/token"}) {
    auto transport = std::make_shared<ScriptedTransport>([realm](const HttpRequest& req, int) {
      if (req.url.rfind(realm, 0) == 0) return status(200, R"({"token":"t"})");
      for (const auto& h : req.headers)
        if (h == "Authorization: Bearer t") return deliver(req, 200, kBlob);
      return status(401, "", {{"www-authenticate", "Bearer realm=\"" + realm + "\""}});
    });
    RegistryOptions o;
    o.transport = Transport::http;  // loopback, no --insecure
    StoreRef ref = test_ref();
    ref.host = "127.0.0.1:5000";
    auto store = make_registry_store(ref, Credentials{"user", "pw", ""}, o, transport);
    StringSink out;
    Status st = store->get_blob(blob_descriptor(), &out);
    if (realm.find("127.0.0.1") != std::string::npos) {
      EXPECT_TRUE(st.ok()) << st.error().message;
    } else {
      ASSERT_FALSE(st.ok());
      EXPECT_NE(st.error().message.find("not https"), std::string::npos) << st.error().message;
      for (const auto& seen : transport->seen)
        EXPECT_EQ(seen.find("192.0.2.2"), std::string::npos) << "the realm was asked: " << seen;
    }
  }
}

TEST(RetryPolicy, NoDowngradeFromHttpsToHttp) {
  Fixture f(
      [](const HttpRequest& req, int) {
        if (req.url.rfind("https://", 0) == 0)
          return status(307, "", {{"location", "http://storage.test/blob"}});
        return deliver(req, 200, kBlob);
      },
      Transport::https);
  StringSink out;
  Status st = f.store->get_blob(blob_descriptor(), &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("plain http on storage.test"), std::string::npos)
      << st.error().message;
  EXPECT_EQ(f.transport->seen.size(), 1u);
}

TEST(RetryPolicy, NoUploadLocationOnPlainHttp) {
  Fixture f(
      [](const HttpRequest& req, int) {
        if (req.method == "HEAD") return status(404);
        if (req.method == "POST")
          return status(202, "",
                        {{"location", "http://registry.test/v2/team/cache/blobs/uploads/u"}});
        return status(201);
      },
      Transport::https);
  Status st = f.store->put_blob(blob_descriptor(), {"", kBlob});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("plain http"), std::string::npos) << st.error().message;
  EXPECT_EQ(f.transport->count("PUT"), 0) << "the blob went to a plain-http location";
}

// GitHub Packages: the token goes with every page, so pages are followed on the API's own
// origin only, each once.
TEST(GithubPackages, PagesStayOnTheApiAndDoNotCircle) {
  for (const std::string next :
       {"https://evil.test/orgs/acme/page2", "https://api.test/orgs/acme/same"}) {
    auto transport = std::make_shared<ScriptedTransport>([next](const HttpRequest& req, int) {
      if (req.method == "DELETE" && req.url.find("registry.test") != std::string::npos)
        return status(405);
      if (req.url.find("evil.test") != std::string::npos) return status(200, "[]");
      HttpResponse r = deliver(req, 200, "[]", {{"link", "<" + next + ">; rel=\"next\""}});
      return r;
    });
    auto store = github_store(transport, github_options(transport));
    Status st = store->delete_manifest(sha256_digest("m"));
    ASSERT_FALSE(st.ok()) << next;
    for (const auto& seen : transport->seen)
      EXPECT_EQ(seen.find("evil.test"), std::string::npos) << seen;
    EXPECT_LE(transport->count("GET"), 3) << "it kept following the pages";
  }
}

// GitHub Packages' REST API goes through the registry's policy: a transient status is tried
// max_attempts times in all with growing waits (Retry-After honoured), a permanent one once.
TEST(GithubPackages, TheApiUsesTheRegistrysRetryPolicy) {
  for (long api_status : {503L, 429L, 404L}) {
    auto transport = std::make_shared<ScriptedTransport>([api_status](const HttpRequest& req, int) {
      if (req.method == "DELETE" && req.url.find("registry.test") != std::string::npos)
        return status(405);
      return status(api_status, "{\"message\":\"no\"}", {{"retry-after", "2"}});
    });
    GithubPackagesOptions gh = github_options(transport);
    // A stopped clock: each recorded wait is exactly the policy's.
    std::vector<std::chrono::milliseconds> waits;
    gh.retry.now = [] { return kStoppedClock; };
    gh.retry.sleep_until = [&waits](SteadyTime t) {
      waits.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(t - kStoppedClock));
      return Status{};
    };
    auto store = github_store(transport, gh);
    Status st = store->delete_manifest(sha256_digest("m"));
    ASSERT_FALSE(st.ok()) << api_status;
    int api_calls = 0;
    std::set<std::string> api_urls;
    for (const auto& seen : transport->seen) {
      if (seen.find("api.test") == std::string::npos) continue;
      ++api_calls;
      api_urls.insert(seen);
    }
    if (api_status == 404) {  // (the org's packages, then the user's: two URLs, each asked once)
      EXPECT_EQ(static_cast<size_t>(api_calls), api_urls.size())
          << "a permanent answer was retried";
      EXPECT_TRUE(waits.empty());
      continue;
    }
    EXPECT_EQ(api_urls.size(), 1u) << "a transient answer moved on to another URL";
    EXPECT_EQ(api_calls, gh.retry.max_attempts) << api_status;
    ASSERT_EQ(waits.size(), static_cast<size_t>(gh.retry.max_attempts - 1)) << api_status;
    if (api_status == 429) {
      for (auto w : waits)
        EXPECT_EQ(w, std::chrono::milliseconds(2000)) << "Retry-After: 2 was not honoured";
    }
  }
}

// Credentials go with the first request over TLS (or to loopback), saving the round trip
// of a 401; over plain http to another host they wait for a challenge.
TEST(RegistryAuth, BasicCredentialsGoFirstOnlyOverTls) {
  for (Transport scheme : {Transport::https, Transport::http}) {
    std::vector<std::string> auth_headers;
    auto transport = std::make_shared<ScriptedTransport>([&](const HttpRequest& req, int) {
      std::string auth;
      for (const auto& h : req.headers)
        if (h.rfind("Authorization:", 0) == 0) auth = h;
      auth_headers.push_back(auth);
      if (auth.empty())
        return Result<HttpResponse>(status(401, "", {{"www-authenticate", "Basic realm=\"r\""}}));
      return Result<HttpResponse>(status(404));
    });
    RegistryOptions o;
    o.transport = scheme;
    StoreRef ref = test_ref();
    auto store = make_registry_store(ref, Credentials{"user", "pw", ""}, o, transport);
    auto m = store->get_manifest("k");
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_FALSE(m->has_value());
    if (scheme == Transport::https) {
      ASSERT_EQ(auth_headers.size(), 1u) << "no 401 round trip over TLS";
      EXPECT_EQ(auth_headers[0].rfind("Authorization: Basic ", 0), 0u);
    } else {
      ASSERT_EQ(auth_headers.size(), 2u) << "plain http to another host: the challenge first";
      EXPECT_EQ(auth_headers[0], "");
    }
  }
}

// A token registry answers Basic credentials sent first with its challenge, as it would
// have answered no credentials; the token is fetched and used from then on.
TEST(RegistryAuth, BasicFirstStillFollowsABearerChallenge) {
  std::vector<std::string> seen;
  auto transport = std::make_shared<ScriptedTransport>([&](const HttpRequest& req, int) {
    std::string auth;
    for (const auto& h : req.headers)
      if (h.rfind("Authorization:", 0) == 0) auth = h;
    seen.push_back(req.url + " " + auth);
    if (req.url.rfind("https://auth.test/token", 0) == 0)
      return Result<HttpResponse>(status(200, R"({"token":"tok"})"));
    if (auth != "Authorization: Bearer tok")
      return Result<HttpResponse>(status(
          401, "",
          {{"www-authenticate", "Bearer realm=\"https://auth.test/token\",service=\"reg\""}}));
    return Result<HttpResponse>(status(404));
  });
  RegistryOptions o;
  StoreRef ref = test_ref();
  auto store = make_registry_store(ref, Credentials{"user", "pw", ""}, o, transport);
  auto m = store->get_manifest("k");
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_NE(seen[0].find("Basic"), std::string::npos);
  EXPECT_EQ(seen[1].rfind("https://auth.test/token", 0), 0u);
  EXPECT_NE(seen[2].find("Bearer tok"), std::string::npos);
  auto again = store->get_manifest("k2");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(seen.size(), 4u) << "the token is reused, no Basic sent again";
  EXPECT_NE(seen[3].find("Bearer tok"), std::string::npos);
}

// warm_up opens connections beside the first request: parallel-1 requests for the API
// root, without credentials.
TEST(RegistryStore, WarmUpAsksForTheApiRootBesideTheFirstRequest) {
  struct Warmed : ScriptedTransport {
    using ScriptedTransport::ScriptedTransport;
    void warm_up(const HttpRequest& req, size_t count) override {
      warmed.push_back(req.method + " " + req.url + " x" + std::to_string(count) +
                       (req.headers.empty() ? "" : " " + req.headers[0].substr(0, 20)));
    }
    std::vector<std::string> warmed;
  };
  auto transport = std::make_shared<Warmed>(
      [&](const HttpRequest&, int) { return Result<HttpResponse>(status(200)); });
  RegistryOptions o;
  o.transport = Transport::https;
  StoreRef ref = test_ref();
  auto store = make_registry_store(ref, Credentials{"u", "p", ""}, o, transport);
  store->warm_up(4);
  store->warm_up(4);  // no more than asked for in all
  store->warm_up(6);
  EXPECT_EQ(transport->warmed, (std::vector<std::string>{"GET https://registry.test/v2/ x3",
                                                         "GET https://registry.test/v2/ x2"}))
      << "warm-ups carry no credentials (a registry may check a password hash per request)";
  EXPECT_TRUE(transport->seen.empty());
}

// prepare_writes fetches the token a push needs beside what the command reads first: the
// write that follows carries it and meets no challenge.
TEST(RegistryAuth, PrepareWritesFetchesThePushTokenAhead) {
  std::mutex mu;
  std::vector<std::string> seen;
  auto transport = std::make_shared<ScriptedTransport>([&](const HttpRequest& req, int) {
    std::string auth;
    for (const auto& h : req.headers)
      if (h.rfind("Authorization:", 0) == 0) auth = h;
    {
      std::lock_guard lock(mu);
      seen.push_back(req.method + " " + req.url + " " + auth);
    }
    if (req.url.rfind("https://auth.test/token", 0) == 0) {
      const bool push = req.url.find("push") != std::string::npos;
      return Result<HttpResponse>(
          status(200, push ? R"({"token":"push"})" : R"({"token":"pull"})"));
    }
    const bool write = req.method == "PUT";
    if (auth != "Authorization: Bearer push" && (write || auth != "Authorization: Bearer pull"))
      return Result<HttpResponse>(status(
          401, "",
          {{"www-authenticate", "Bearer realm=\"https://auth.test/token\",service=\"reg\""}}));
    return Result<HttpResponse>(status(write ? 201 : 200));
  });
  RegistryOptions o;
  o.transport = Transport::https;
  StoreRef ref = test_ref();
  auto store = make_registry_store(ref, Credentials{"user", "pw", ""}, o, transport);
  store->prepare_writes();
  store.reset();  // waits for the preparation
  // The API root with Basic, the push token, the API root with it.
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "GET https://registry.test/v2/ Authorization: Basic dXNlcjpwdw==");
  EXPECT_NE(seen[1].find("https://auth.test/token"), std::string::npos);
  EXPECT_NE(seen[1].find("push"), std::string::npos) << seen[1];
  EXPECT_EQ(seen[2], "GET https://registry.test/v2/ Authorization: Bearer push");
}

// A write right after prepare_writes waits for it, and goes with the push token at once.
TEST(RegistryAuth, AWriteAfterPrepareWritesMeetsNoChallenge) {
  std::atomic<int> token_fetches{0}, challenges{0};
  auto transport = std::make_shared<ScriptedTransport>([&](const HttpRequest& req, int) {
    std::string auth;
    for (const auto& h : req.headers)
      if (h.rfind("Authorization:", 0) == 0) auth = h;
    if (req.url.rfind("https://auth.test/token", 0) == 0) {
      ++token_fetches;
      return Result<HttpResponse>(status(200, R"({"token":"push"})"));
    }
    if (auth != "Authorization: Bearer push") {
      ++challenges;
      return Result<HttpResponse>(status(
          401, "",
          {{"www-authenticate", "Bearer realm=\"https://auth.test/token\",service=\"reg\""}}));
    }
    return Result<HttpResponse>(status(201, "", {{"docker-content-digest", "sha256:x"}}));
  });
  RegistryOptions o;
  o.transport = Transport::https;
  StoreRef ref = test_ref();
  auto store = make_registry_store(ref, Credentials{"user", "pw", ""}, o, transport);
  store->prepare_writes();
  auto put = store->put_manifest("t", "{}", "application/vnd.oci.image.manifest.v1+json");
  EXPECT_TRUE(put.ok()) << put.error().message;
  EXPECT_EQ(token_fetches, 1) << "the write fetched a token of its own";
  EXPECT_EQ(challenges, 1) << "the write met a challenge (only the API root should)";
}

// ghcr.io's store passes warm_up and prepare_writes on to the registry store it wraps.
TEST(GithubPackages, PassesWarmUpOnToTheRegistry) {
  struct Warmed : ScriptedTransport {
    using ScriptedTransport::ScriptedTransport;
    void warm_up(const HttpRequest& req, size_t count) override {
      warmed.push_back(req.url + " x" + std::to_string(count));
    }
    std::vector<std::string> warmed;
  };
  auto transport = std::make_shared<Warmed>(
      [&](const HttpRequest&, int) { return Result<HttpResponse>(status(200)); });
  auto store = github_store(transport, github_options(transport));
  store->warm_up(3);
  store->prepare_writes();
  store.reset();  // joins the preparation
  EXPECT_EQ(transport->warmed, (std::vector<std::string>{"https://registry.test/v2/ x2"}));
  EXPECT_EQ(transport->count("GET"), 1) << "prepare_writes asked for the API root";
}

namespace {

// A blob large enough to come as ranges, served by a script that honours Range or not.
struct RangedBlob {
  std::string bytes = std::string(40u << 20, 'r');
  Descriptor descriptor() {
    for (size_t i = 0; i < bytes.size(); i += 4096) bytes[i] = static_cast<char>(i / 4096);
    return {"application/octet-stream", sha256_digest(bytes), bytes.size(), {}};
  }
  // Answers a bounded Range request as a registry does: 206 with Content-Range.
  HttpResponse serve_range(const HttpRequest& req) const {
    uint64_t end = req.range_from + req.range_length - 1;
    return deliver(
        req, 206, bytes.substr(req.range_from, req.range_length),
        {{"content-range", "bytes " + std::to_string(req.range_from) + "-" + std::to_string(end) +
                               "/" + std::to_string(bytes.size())}});
  }
};

}  // namespace

TEST(RegistryRanges, ALargeBlobComesAsParallelRangesInOrder) {
  RangedBlob blob;
  Descriptor d = blob.descriptor();
  std::atomic<int> ranged{0};
  Fixture f([&](const HttpRequest& req, int) -> Result<HttpResponse> {
    if (req.range_length == 0) return deliver(req, 200, blob.bytes);
    ++ranged;
    return blob.serve_range(req);
  });
  StringSink out;
  ASSERT_TRUE(f.store->get_blob(d, &out).ok());
  EXPECT_TRUE(out.str() == blob.bytes);
  EXPECT_EQ(ranged, 10) << "40 MiB in 4 MiB ranges";
}

TEST(RegistryRanges, ARegistryIgnoringRangesIsReadInOneStream) {
  RangedBlob blob;
  Descriptor d = blob.descriptor();
  Fixture f([&](const HttpRequest& req, int) -> Result<HttpResponse> {
    // As HttpClient answers a 200 to a bounded Range request: nothing delivered.
    if (req.range_length > 0) return status(200);
    return deliver(req, 200, blob.bytes);
  });
  StringSink out;
  ASSERT_TRUE(f.store->get_blob(d, &out).ok());
  EXPECT_TRUE(out.str() == blob.bytes);
  EXPECT_EQ(f.transport->count("GET"), 2) << "the first range, then the whole blob";
}

TEST(RegistryRanges, ACutRangeIsFetchedAgain) {
  RangedBlob blob;
  Descriptor d = blob.descriptor();
  std::atomic<int> cuts{0};
  Fixture f([&](const HttpRequest& req, int) -> Result<HttpResponse> {
    if (req.range_from == (16u << 20) && cuts.fetch_add(1) == 0)
      return make_error(ErrorKind::network, "connection reset");
    return blob.serve_range(req);
  });
  StringSink out;
  auto st = f.store->get_blob(d, &out);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_TRUE(out.str() == blob.bytes);
  EXPECT_EQ(f.waits.size(), 1u) << "one retry, after a backoff";
}
