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
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

enum class Access { pull, push, remove };
enum class Retry { here, caller };

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
  std::string staging_dir() const override { return opts_.staging_dir; }

  Result<bool> has_blob(const Descriptor& d) override {
    HttpRequest req{"HEAD", base_ + "/blobs/" + d.digest};
    auto r = RC_TRY(send(req, Access::pull, Retry::here));
    if (r.status == 200) return true;
    if (r.status == 404) return false;
    return fail(req, r);
  }

  // Streams a blob into out; a transfer cut after some bytes resumes with a Range
  // request (a server that ignores Range is read past the bytes already delivered).
  Status get_blob(const Descriptor& d, Sink* out) override {
    CountingSink delivered(out);
    for (int attempt = 1;; ++attempt) {
      HttpRequest req{"GET", base_ + "/blobs/" + d.digest};
      const uint64_t have = delivered.bytes;
      req.range_from = have;
      req.sink = &delivered;
      auto r = send(req, Access::pull, Retry::here);
      if (!r.ok()) {
        if (r.error().kind != ErrorKind::network || delivered.bytes == 0 ||
            attempt >= opts_.max_attempts) {
          return r.error();
        }
        log_verbose("GET " + d.digest + ": " + r.error().message + " after " +
                    std::to_string(delivered.bytes) + " bytes (resuming)");
        RC_CHECK(backoff(attempt, nullptr));
        continue;
      }
      if (r->status == 200 || r->status == 206) {
        if (have > 0 && r->status == 206 && !range_starts_at(r->header("content-range"), have)) {
          return make_error(ErrorKind::integrity,
                            "GET " + d.digest + ": the registry resumed at the wrong offset");
        }
        return {};
      }
      if (r->status == 404) {
        return make_error(ErrorKind::not_found,
                          "blob " + d.digest + " is missing from " + describe());
      }
      return fail(req, *r);
    }
  }

  // Uploads a blob; an upload cut or refused mid-way starts again with a new session.
  Status put_blob(const Descriptor& d, const BlobSource& src) override {
    for (int attempt = 1;; ++attempt) {
      auto st = upload_once(d, src);
      bool transient = !st.ok() && st.error().kind == ErrorKind::network;
      if (!transient || attempt >= opts_.max_attempts) return st;
      log_verbose("upload of " + d.digest + ": " + st.error().message + " (starting again)");
      RC_CHECK(backoff(attempt, nullptr));
    }
  }

  std::string registry_repository() const override { return ref_.host + "/" + ref_.repository; }

  // Mounts the blob from `from` when that is another repository of this registry (one
  // POST: 201 mounted; 202 it is not there, and the session it opened is cancelled);
  // otherwise, or when the mount fails, checks whether this repository has it.
  Result<bool> link_blob(const Descriptor& d, const Store& from) override {
    const std::string other = from.registry_repository();
    const std::string host = ref_.host + "/";
    if (other.rfind(host, 0) != 0 || other == registry_repository()) return has_blob(d);
    const std::string repo = other.substr(host.size());  // [a-z0-9._/-]: no escaping needed
    HttpRequest post{"POST", base_ + "/blobs/uploads/?mount=" + d.digest + "&from=" + repo};
    auto r = send(post, Access::push, Retry::here, repo);
    if (r.ok() && r->status == 201) {
      log_verbose("blob " + d.digest + " mounted from " + other);
      return true;
    }
    if (r.ok() && r->status == 202) {
      if (auto loc = location_of(*r, post); loc.ok()) {
        HttpRequest cancel{"DELETE", *loc};
        (void)send(cancel, Access::push, Retry::caller);  // best effort: sessions expire anyway
      }
    } else {
      log_verbose("mount of " + d.digest + " from " + other +
                  " failed: " + (r.ok() ? r->error_summary() : r.error().message));
    }
    return has_blob(d);
  }

  Status upload_once(const Descriptor& d, const BlobSource& src) {
    HttpRequest post{"POST", base_ + "/blobs/uploads/"};
    auto r = RC_TRY(send(post, Access::push, Retry::here));
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
    auto r = RC_TRY(fetch_small(req, &body));
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
    for (int attempt = 1;; ++attempt) {
      auto r = RC_TRY(send(req, Access::push, Retry::here));
      if (r.status == 201 || r.status == 200) return sha256_digest(bytes);
      // distribution briefly fails to read a blob that a concurrent upload of the same
      // content is re-linking (DIGEST_INVALID / BLOB_UNKNOWN): a moment later it is there.
      bool racing = r.status == 400 && (r.body.find("DIGEST_INVALID") != std::string::npos ||
                                        r.body.find("BLOB_UNKNOWN") != std::string::npos);
      if (!racing || attempt >= opts_.max_attempts) return fail(req, r);
      log_verbose("PUT manifest " + tag + ": " + r.error_summary() + " (retrying)");
      RC_CHECK(backoff(attempt, &r));
    }
  }

  Status delete_manifest(const std::string& digest) override {
    HttpRequest req{"DELETE", base_ + "/manifests/" + digest};
    auto r = RC_TRY(send(req, Access::remove, Retry::here));
    if (r.status == 202 || r.status == 200) return {};
    if (r.status == 404)
      return make_error(ErrorKind::not_found, "no manifest " + digest + " in " + describe());
    if (r.status == 405) {
      return make_error(ErrorKind::unsupported,
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
      auto r = RC_TRY(fetch_small(req, &body));
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
      // A 202 cut before its headers ended looks like this: worth another try.
      return make_error(ErrorKind::network,
                        req.method + " " + redact_url(req.url) + ": no Location in the answer");
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
      auto r = RC_TRY(send(req, Access::push, Retry::caller));
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
    auto r = RC_TRY(send(req, Access::push, Retry::caller));
    if (r.status == 201 || r.status == 204) return {};
    return fail(req, r);
  }

  Error fail(const HttpRequest& req, const HttpResponse& r) const {
    ErrorKind kind = ErrorKind::generic;
    if (transient_status(r.status)) kind = ErrorKind::network;
    // A lost upload session (expired, or spoiled by a cut) is restarted by put_blob.
    if ((r.status == 404 && r.body.find("BLOB_UPLOAD_UNKNOWN") != std::string::npos) ||
        (r.status == 416 && req.method == "PATCH")) {
      kind = ErrorKind::network;
    }
    if (r.status == 401 || r.status == 403) kind = ErrorKind::auth;
    if (r.status == 400 && r.body.find("DIGEST_INVALID") != std::string::npos)
      kind = ErrorKind::integrity;
    if (r.status == 400 && req.method == "PUT" &&
        r.body.find("MANIFEST_BLOB_UNKNOWN") != std::string::npos)
      kind = ErrorKind::not_found;  // the manifest names a blob the registry lacks
    return make_error(kind, req.method + " " + redact_url(req.url) + ": " + r.error_summary());
  }

  // Sleeps before another attempt (exponential, with jitter, or the server's
  // Retry-After); fails with ErrorKind::timeout when the deadline comes first.
  Status backoff(int attempt, const HttpResponse* r) {
    double delay = opts_.retry_delay_ms / 1000.0 * (1 << std::min(attempt - 1, 6));
    if (r) {
      std::string ra = r->header("retry-after");
      if (!ra.empty() && std::all_of(ra.begin(), ra.end(), ::isdigit))
        delay = std::min(30.0, std::stod(ra));
    }
    thread_local std::mt19937 rng{std::random_device{}()};
    delay *= std::uniform_real_distribution<double>(0.75, 1.25)(rng);
    auto wake = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(std::min(delay, 30.0)));
    if (opts_.deadline && wake >= *opts_.deadline) {
      RC_CHECK(sleep_until_or_interrupted(*opts_.deadline));
      return timed_out();
    }
    return sleep_until_or_interrupted(wake);
  }

  Error timed_out() const {
    return make_error(ErrorKind::timeout, describe() + ": gave up, the time budget ran out");
  }

  // Returns the milliseconds left before the deadline (0: none set), or a timeout error.
  Result<long> time_left() const {
    if (!opts_.deadline) return 0L;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    *opts_.deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return timed_out();
    return static_cast<long>(left);
  }

  static bool range_starts_at(const std::string& content_range, uint64_t offset) {
    // Content-Range: bytes START-END/TOTAL
    auto sp = content_range.find(' ');
    if (sp == std::string::npos) return false;
    std::string start = std::to_string(offset) + "-";
    return content_range.compare(sp + 1, start.size(), start) == 0;
  }

  // GETs a small body into memory; a transfer cut mid-body starts again from scratch.
  Result<HttpResponse> fetch_small(HttpRequest req, StringSink* body) {
    req.sink = body;
    for (int attempt = 1;; ++attempt) {
      body->str().clear();
      auto r = send(req, Access::pull, Retry::here);
      if (r.ok() || r.error().kind != ErrorKind::network || attempt >= opts_.max_attempts) return r;
      log_verbose(r.error().message + " (fetching again)");
      RC_CHECK(backoff(attempt, nullptr));
    }
  }

  // Sends a request with auth and redirects; retries transient failures itself
  // (Retry::here) or leaves them to the caller (Retry::caller: upload bodies, whose
  // session a cut may have spoiled). Returns the final response. `pull_from` names another
  // repository the token must also allow pulling from (a cross-repository mount).
  Result<HttpResponse> send(HttpRequest req, Access access, Retry retry,
                            const std::string& pull_from = "") {
    std::string sc = scope(ref_.repository, access);
    if (!pull_from.empty()) sc += " " + scope(pull_from, Access::pull);
    const std::string registry_origin = origin_of(base_);
    bool challenged = false;
    int redirects = 0;
    for (int attempt = 0;;) {
      HttpRequest r = req;
      CountingSink counter(req.sink);
      if (req.sink) r.sink = &counter;
      r.stall_seconds = opts_.stall_seconds;
      r.timeout_ms = RC_TRY(time_left());
      if (origin_of(r.url) == registry_origin) {
        std::string h = auth_.header_for(sc);
        if (!h.empty()) r.headers.push_back(h);
      }
      auto resp = http_.perform(r);
      bool consumed = counter.bytes > 0;
      if (!resp.ok()) {
        if (resp.error().kind == ErrorKind::network) RC_TRY(time_left());
        if (resp.error().kind != ErrorKind::network || consumed || retry == Retry::caller ||
            ++attempt >= opts_.max_attempts) {
          return resp.error();
        }
        log_verbose(resp.error().message + " (retrying)");
        RC_CHECK(backoff(attempt, nullptr));
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
      if (transient_status(s) && !consumed && retry == Retry::here &&
          ++attempt < opts_.max_attempts) {
        log_verbose(r.method + " " + redact_url(r.url) + ": HTTP " + std::to_string(s) +
                    " (retrying)");
        RC_CHECK(backoff(attempt, &*resp));
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
