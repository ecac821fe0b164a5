// Requests go through send(), which adds the Authorization header for the request's
// scope, answers one 401 challenge, follows redirects (never carrying Authorization to
// another host) and retries transient failures (connection errors, 408, 429, 5xx) with
// exponential backoff and jitter, honouring Retry-After. A failure after response bytes
// already reached a sink is not retried here: the caller's pipeline has consumed them.
#include "regcache/store/registry/registry_store.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "regcache/core/entry_format.hpp"
#include "regcache/store/registry/auth.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

enum class Access { pull, push, remove };

constexpr size_t kMaxManifestBytes = 4 << 20;
constexpr const char* kAccept =
    "Accept: application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

std::string origin_of(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return url.substr(0, slash);
}

// Counts the bytes a request delivered, so a failed transfer that already fed the
// caller's pipeline is not retried into it twice.
class CountingSink : public Sink {
 public:
  explicit CountingSink(Sink* next) : next_(next) {}
  Status write(const char* data, size_t size) override {
    bytes += size;
    return next_->write(data, size);
  }
  uint64_t bytes = 0;

 private:
  Sink* next_;
};

bool transient_status(long s) {
  return s == 408 || s == 429 || (s >= 500 && s <= 599);
}

class RegistryStore : public Store {
 public:
  RegistryStore(const StoreRef& ref, std::optional<Credentials> creds, const RegistryOptions& o)
      : ref_(ref), opts_(o), http_(o.tls), auth_(&http_, std::move(creds), ref.host) {
    base_ = std::string(o.transport == Transport::https ? "https://" : "http://") + ref.host +
            "/v2/" + ref.repository;
  }

  std::string describe() const override { return ref_.host + "/" + ref_.repository; }
  std::string staging_dir() const override {
    const char* t = std::getenv("TMPDIR");
    return t && *t ? t : "/tmp";
  }

  Result<bool> has_blob(const Descriptor& d) override {
    HttpRequest req{"HEAD", base_ + "/blobs/" + d.digest};
    auto r = RC_TRY(send(req, Access::pull));
    if (r.status == 200) return true;
    if (r.status == 404) return false;
    return fail(req, r);
  }

  Status get_blob(const Descriptor& d, Sink* out) override {
    HttpRequest req{"GET", base_ + "/blobs/" + d.digest};
    req.sink = out;
    auto r = RC_TRY(send(req, Access::pull));
    if (r.status == 200) return {};
    if (r.status == 404) {
      return make_error(ErrorKind::not_found,
                        "blob " + d.digest + " is missing from " + describe());
    }
    return fail(req, r);
  }

  Status put_blob(const Descriptor& d, const BlobSource& src) override {
    HttpRequest post{"POST", base_ + "/blobs/uploads/"};
    auto r = RC_TRY(send(post, Access::push));
    if (r.status != 202) return fail(post, r);
    std::string location = RC_TRY(location_of(r, post));
    if (!src.file.empty() && d.size > opts_.chunk_threshold) {
      location = RC_TRY(upload_chunks(location, d, src));
      return finish_upload(location, d, nullptr);
    }
    return finish_upload(location, d, &src);
  }

  Result<std::optional<FetchedManifest>> get_manifest(const std::string& reference) override {
    StringSink body(kMaxManifestBytes);
    HttpRequest req{"GET", base_ + "/manifests/" + reference, {kAccept}};
    req.sink = &body;
    auto r = RC_TRY(send(req, Access::pull));
    if (r.status == 404) return std::optional<FetchedManifest>();
    if (r.status != 200) return fail(req, r);
    FetchedManifest fm;
    fm.bytes = std::move(body.str());
    fm.digest = sha256_digest(fm.bytes);
    fm.media_type = r.header("content-type");
    if (is_valid_digest(reference) && fm.digest != reference) {
      return make_error(ErrorKind::integrity, "manifest " + reference + " from " + describe() +
                                                  " does not match its digest");
    }
    return std::optional<FetchedManifest>(std::move(fm));
  }

  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    BlobSource body{"", bytes};
    HttpRequest req{"PUT", base_ + "/manifests/" + tag, {"Content-Type: " + media_type}};
    req.body = &body;
    auto r = RC_TRY(send(req, Access::push));
    if (r.status != 201 && r.status != 200) return fail(req, r);
    return sha256_digest(bytes);
  }

  Status delete_manifest(const std::string& digest) override {
    HttpRequest req{"DELETE", base_ + "/manifests/" + digest};
    auto r = RC_TRY(send(req, Access::remove));
    if (r.status == 202 || r.status == 200) return {};
    if (r.status == 404)
      return make_error(ErrorKind::not_found, "no manifest " + digest + " in " + describe());
    if (r.status == 405) {
      return make_error(ErrorKind::generic,
                        describe() + " does not allow deleting manifests (HTTP 405)");
    }
    return fail(req, r);
  }

  Result<std::vector<std::string>> list_tags() override {
    std::vector<std::string> tags;
    std::string url = base_ + "/tags/list?n=1000";
    for (int page = 0; page < 100000 && !url.empty(); ++page) {
      StringSink body(64 << 20);
      HttpRequest req{"GET", url};
      req.sink = &body;
      auto r = RC_TRY(send(req, Access::pull));
      if (r.status == 404) return tags;  // NAME_UNKNOWN: an empty repository
      if (r.status != 200) return fail(req, r);
      auto j = nlohmann::json::parse(body.str(), nullptr, false);
      if (!j.is_object())
        return make_error(ErrorKind::integrity, "malformed tag list from " + describe());
      if (j.contains("tags") && j["tags"].is_array()) {
        for (const auto& t : j["tags"]) {
          if (t.is_string()) tags.push_back(t.get<std::string>());
        }
      }
      url = next_link(r.header("link"), url);
    }
    return tags;
  }

 private:
  static std::string scope(const std::string& repo, Access a) {
    switch (a) {
      case Access::pull:
        return "repository:" + repo + ":pull";
      case Access::push:
        return "repository:" + repo + ":pull,push";
      case Access::remove:
        return "repository:" + repo + ":delete";
    }
    return {};
  }

  std::string resolve(const std::string& location, const std::string& request_url) const {
    if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return location;
    if (!location.empty() && location[0] == '/') return origin_of(request_url) + location;
    auto slash = request_url.rfind('/');
    return request_url.substr(0, slash + 1) + location;
  }

  std::string next_link(const std::string& link, const std::string& url) const {
    // Link: <url>; rel="next"
    auto lt = link.find('<'), gt = link.find('>');
    if (lt == std::string::npos || gt == std::string::npos ||
        link.find("rel=\"next\"") == std::string::npos) {
      return "";
    }
    return resolve(link.substr(lt + 1, gt - lt - 1), url);
  }

  Result<std::string> location_of(const HttpResponse& r, const HttpRequest& req) {
    std::string loc = r.header("location");
    if (loc.empty()) {
      return make_error(ErrorKind::integrity,
                        req.method + " " + redact_url(req.url) + ": no Location");
    }
    return resolve(loc, req.url);
  }

  Result<std::string> upload_chunks(std::string location, const Descriptor& d,
                                    const BlobSource& src) {
    for (uint64_t off = 0; off < d.size; off += opts_.chunk_size) {
      uint64_t len = std::min(opts_.chunk_size, d.size - off);
      BlobSource part{src.file, "", off, len};
      HttpRequest req{
          "PATCH",
          location,
          {"Content-Type: application/octet-stream",
           "Content-Range: " + std::to_string(off) + "-" + std::to_string(off + len - 1)}};
      req.body = &part;
      auto r = RC_TRY(send(req, Access::push));
      if (r.status != 202) return fail(req, r);
      location = RC_TRY(location_of(r, req));
    }
    return location;
  }

  Status finish_upload(const std::string& location, const Descriptor& d, const BlobSource* body) {
    std::string url =
        location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + d.digest;
    HttpRequest req{"PUT", url, {"Content-Type: application/octet-stream"}};
    req.body = body;
    auto r = RC_TRY(send(req, Access::push));
    if (r.status == 201 || r.status == 204) return {};
    return fail(req, r);
  }

  Error fail(const HttpRequest& req, const HttpResponse& r) const {
    ErrorKind kind = ErrorKind::generic;
    if (r.status == 401 || r.status == 403) kind = ErrorKind::auth;
    if (r.status == 400 && r.body.find("DIGEST_INVALID") != std::string::npos)
      kind = ErrorKind::integrity;
    return make_error(kind, req.method + " " + redact_url(req.url) + ": " + r.error_summary());
  }

  void backoff(int attempt, const HttpResponse* r) {
    double delay = 0.25 * (1 << std::min(attempt, 6));
    if (r) {
      std::string ra = r->header("retry-after");
      if (!ra.empty() && std::all_of(ra.begin(), ra.end(), ::isdigit))
        delay = std::min(30.0, std::stod(ra));
    }
    thread_local std::mt19937 rng{std::random_device{}()};
    delay *= std::uniform_real_distribution<double>(0.75, 1.25)(rng);
    std::this_thread::sleep_for(std::chrono::duration<double>(std::min(delay, 30.0)));
  }

  // Sends a request with auth, redirects and retries; returns the final response.
  Result<HttpResponse> send(HttpRequest req, Access access) {
    const std::string sc = scope(ref_.repository, access);
    const std::string registry_origin = origin_of(base_);
    bool challenged = false;
    int redirects = 0;
    for (int attempt = 0;;) {
      HttpRequest r = req;
      CountingSink counter(req.sink);
      if (req.sink) r.sink = &counter;
      if (origin_of(r.url) == registry_origin) {
        std::string h = auth_.header_for(sc);
        if (!h.empty()) r.headers.push_back(h);
      }
      auto resp = http_.perform(r);
      bool consumed = counter.bytes > 0;
      if (!resp.ok()) {
        if (resp.error().kind != ErrorKind::network || consumed ||
            ++attempt >= opts_.max_attempts) {
          return resp.error();
        }
        log_verbose(resp.error().message + " (retrying)");
        backoff(attempt, nullptr);
        continue;
      }
      long s = resp->status;
      if (s == 401 && origin_of(r.url) == registry_origin) {
        if (challenged) {
          if (!auth_.has_credentials()) {
            return make_error(ErrorKind::auth,
                              describe() +
                                  ": authentication required and no credentials "
                                  "found (set REGCACHE_USERNAME/REGCACHE_PASSWORD or log in)");
          }
          return make_error(ErrorKind::auth, describe() +
                                                 ": the registry refused the credentials (" +
                                                 resp->error_summary() + ")");
        }
        challenged = true;
        auth_.forget(sc);
        RC_CHECK(auth_.on_challenge(resp->header("www-authenticate"), sc));
        continue;
      }
      if ((s == 301 || s == 302 || s == 303 || s == 307 || s == 308) &&
          !resp->header("location").empty()) {
        if (++redirects > 5)
          return make_error(ErrorKind::network, "too many redirects from " + describe());
        req.url = resolve(resp->header("location"), r.url);
        if (s == 303) req.method = "GET";
        continue;
      }
      if (transient_status(s) && !consumed && ++attempt < opts_.max_attempts) {
        log_verbose(r.method + " " + redact_url(r.url) + ": HTTP " + std::to_string(s) +
                    " (retrying)");
        backoff(attempt, &*resp);
        continue;
      }
      return resp;
    }
  }

  StoreRef ref_;
  RegistryOptions opts_;
  HttpClient http_;
  Authorizer auth_;
  std::string base_;
};

}  // namespace

std::unique_ptr<Store> make_registry_store(const StoreRef& ref, std::optional<Credentials> creds,
                                           const RegistryOptions& options) {
  return std::make_unique<RegistryStore>(ref, std::move(creds), options);
}

}  // namespace regcache
