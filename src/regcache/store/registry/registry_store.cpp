// Requests go through send(), which adds the Authorization header for the request's
// scope, answers one 401 challenge, follows redirects (never carrying Authorization to
// another host, never from https down to http) and retries transient failures as the one
// transport policy says (store/registry/retry.hpp). Each logical operation (a HEAD, a
// download with its ranged resumes, an upload with its restarts, a manifest PUT with its
// races) has one attempt budget. A failure after response bytes reached a sink is not
// retried by send(): the caller resumes or restarts, from the same budget.
#include "regcache/store/registry/registry_store.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "regcache/oci/media_types.hpp"
#include "regcache/oci/reference.hpp"
#include "regcache/store/registry/auth.hpp"
#include "regcache/store/registry/ranged_download.hpp"
#include "regcache/store/registry/retry.hpp"
#include "regcache/store/registry/tag_page.hpp"
#include "regcache/store/registry/urls.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

enum class Access { pull, push, remove };
enum class Retry { here, caller };  // caller: a body was sent that a cut may have spoiled

constexpr int kMaxRedirects = 5;
// Blobs of kRangedMin bytes or more come as kRangeChunk ranges, kRangeWindow of them fetched
// or waiting at once (8 x 25 MB/s fills a 200 MB/s link), for at most kRangedBlobs blobs at
// a time: 2 x 8 x 4 MiB of buffers.
constexpr uint64_t kRangeChunk = 4 << 20;
constexpr uint64_t kRangedMin = 32 << 20;
constexpr size_t kRangeWindow = 8;
constexpr int kRangedBlobs = 2;
constexpr int kMaxTagPages = 10000;
constexpr size_t kMaxTagPageBytes = 16 << 20;
const std::string kAccept = std::string("Accept: ") + kOciManifest + ", " + kDockerManifest + ", " +
                            kOciIndex + ", " + kDockerManifestList;

HttpBody body_of(const BlobSource& s) {
  return HttpBody{s.file, s.bytes, s.offset, s.length};
}

RetryPolicy retry_policy_of(const RegistryOptions& o) {
  RetryPolicy p;
  p.max_attempts = o.max_attempts;
  p.first_delay = std::chrono::milliseconds(o.retry_delay_ms);
  p.deadline = o.deadline;
  p.sleep_until = o.sleep_until;
  p.now = o.now;
  return p;
}

class RegistryStore : public Store {
 public:
  RegistryStore(const StoreRef& ref, std::optional<Credentials> creds, const RegistryOptions& o,
                std::shared_ptr<HttpTransport> http)
      : ref_(ref),
        opts_(o),
        policy_(retry_policy_of(o)),
        http_(std::move(http)),
        auth_(http_.get(), std::move(creds), ref.host,
              o.transport == Transport::https  ? RealmScheme::https_only
              : o.tls.verify == TlsVerify::off ? RealmScheme::any  // --insecure
                                               : RealmScheme::loopback_http,
              // Credentials go with the first request only where they cannot be read on
              // the way: over TLS, or to this machine.
              o.transport == Transport::https || is_loopback_host(ref.host)
                  ? FirstRequest::basic
                  : FirstRequest::anonymous,
              o.deadline) {
    base_ = std::string(o.transport == Transport::https ? "https://" : "http://") + ref.host +
            "/v2/" + ref.repository;
  }

  // Opens connections beside the first requests: each warm-up asks for the API root once
  // (GET /v2/, without credentials: a registry that checks a password hash per request
  // would pay for each, and a 401 leaves the connection as open as a 200) and leaves it,
  // set up and kept alive, for the parallel transfers.
  void warm_up(size_t parallel) override {
    size_t more = 0;
    {
      std::lock_guard lock(warm_mu_);
      if (parallel > warmed_ + 1) more = parallel - 1 - warmed_;
      warmed_ += more;
    }
    if (more == 0) return;
    HttpRequest req{"GET", url_origin(base_) + "/v2/"};
    req.stall_seconds = opts_.stall_seconds;
    auto left = time_left();
    if (!left.ok()) return;
    req.timeout_ms = *left;
    http_->warm_up(req, more);
  }

  // Asks for the API root with the push scope: a token registry's challenge then gets a
  // token that allows pushing, kept for the writes to come, which wait for it (send).
  void prepare_writes() override {
    std::lock_guard lock(warm_mu_);
    if (prepared_.valid()) return;
    prepared_ =
        std::async(std::launch::async, [this] {
          AttemptBudget budget(policy_);
          (void)send_now({"GET", url_origin(base_) + "/v2/"}, Access::push, Retry::caller, budget);
        }).share();
  }

  ~RegistryStore() override { wait_prepared(); }

  std::string describe() const override { return ref_.host + "/" + ref_.repository; }
  // The error for a blob the registry answers 404 for.
  Error missing(const Descriptor& d) const {
    return make_error(ErrorKind::not_found, "blob " + d.digest + " is missing from " + describe());
  }
  std::string staging_dir() const override { return opts_.staging_dir; }
  StoreProperties properties() const override {
    return {ManifestBlobCheck::refused, ref_.host + "/" + ref_.repository, opts_.lookup_index};
  }

  Result<bool> has_blob(const Descriptor& d) override {
    AttemptBudget budget(policy_);
    HttpRequest req{"HEAD", base_ + "/blobs/" + d.digest};
    auto r = RC_TRY(send(req, Access::pull, Retry::here, budget));
    if (r.status == 200) return true;
    if (r.status == 404) return false;
    return fail(req, r);
  }

  // Streams a blob into out. A large one comes as ranges on parallel connections (one
  // TCP stream to a distant registry moves a fraction of what the link can), at most
  // kRangedBlobs blobs at a time so that the buffers stay bounded.
  Status get_blob(const Descriptor& d, Sink* out) override {
    if (d.size >= kRangedMin) {
      if (ranged_.fetch_add(1) < kRangedBlobs) {
        Status st = get_blob_ranged(d, out);
        --ranged_;
        return st;
      }
      --ranged_;
    }
    return get_blob_streamed(d, out);
  }

  // The first range tells whether the registry answers ranges at all (206); one that
  // sends the whole body instead (200) streams it as usual.
  Status get_blob_ranged(const Descriptor& d, Sink* out) {
    std::string first;
    if (!RC_TRY(fetch_range(d, 0, kRangeChunk, &first))) return get_blob_streamed(d, out);
    RC_CHECK(out->write(first.data(), first.size()));
    first = std::string();
    RangePlan plan{kRangeChunk, d.size, kRangeChunk, kRangeWindow};
    return download_in_ranges(
        plan,
        [&](uint64_t offset, uint64_t length, std::string* into) -> Status {
          if (!RC_TRY(fetch_range(d, offset, length, into)))
            return make_error(ErrorKind::network,
                              "GET " + d.digest + ": the registry stopped answering ranges");
          return {};
        },
        out);
  }

  // Fetches [offset, offset + length) of a blob into *into (its capacity reused); false
  // when the registry answered with the whole blob (it ignores ranges). A cut range is
  // fetched again from its start.
  Result<bool> fetch_range(const Descriptor& d, uint64_t offset, uint64_t length,
                           std::string* into) {
    AttemptBudget budget(policy_);
    StringSink body(length);
    body.str().swap(*into);
    body.str().reserve(length);
    HttpRequest req{"GET", base_ + "/blobs/" + d.digest};
    req.range_from = offset;
    req.range_length = length;
    auto r = fetch_small(req, &body, budget);
    body.str().swap(*into);
    if (!r.ok()) return r.error();
    if (r->status == 200) return false;
    if (r->status == 206) {
      if (!range_starts_at(r->header("content-range"), offset))
        return make_error(ErrorKind::integrity,
                          "GET " + d.digest + ": the registry sent another range");
      return true;
    }
    if (r->status == 404) return missing(d);
    return fail(req, *r);
  }

  // Streams a blob into out; a transfer cut after some bytes resumes with a Range
  // request (a server that ignores Range is read past the bytes already delivered).
  Status get_blob_streamed(const Descriptor& d, Sink* out) {
    AttemptBudget budget(policy_);
    CountingSink delivered(out);
    for (;;) {
      HttpRequest req{"GET", base_ + "/blobs/" + d.digest};
      const uint64_t have = delivered.bytes;
      req.range_from = have;
      req.sink = &delivered;
      auto r = send(req, Access::pull, Retry::here, budget);
      if (!r.ok()) {
        if (r.error().kind != ErrorKind::network || delivered.bytes == 0) return r.error();
        log_verbose("GET " + d.digest + ": " + r.error().message + " after " +
                    std::to_string(delivered.bytes) + " bytes (resuming)");
        RC_CHECK(budget.retry_after(r.error()));
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
        return missing(d);
      }
      return fail(req, *r);
    }
  }

  // Uploads a blob; an upload cut or refused mid-way starts again with a new session,
  // from the same budget as its requests' own retries.
  Status put_blob(const Descriptor& d, const BlobSource& src) override {
    AttemptBudget budget(policy_);
    for (;;) {
      auto st = upload_once(d, src, budget);
      if (st.ok() || st.error().kind != ErrorKind::network) return st;
      log_verbose("upload of " + d.digest + ": " + st.error().message + " (starting again)");
      RC_CHECK(budget.retry_after(st.error()));
    }
  }

  // Mounts the blob from `from` when that is another repository of this registry (one
  // POST: 201 mounted; 202 it is not there, and the session it opened is cancelled);
  // otherwise, or when the mount fails, checks whether this repository has it.
  Result<bool> link_blob(const Descriptor& d, const Store& from) override {
    const std::string other = from.properties().registry_repository;
    const std::string host = ref_.host + "/";
    if (other.rfind(host, 0) != 0 || other == properties().registry_repository) return has_blob(d);
    const std::string repo = other.substr(host.size());  // [a-z0-9._/-]: no escaping needed
    AttemptBudget budget(policy_);
    HttpRequest post{"POST", base_ + "/blobs/uploads/?mount=" + d.digest + "&from=" + repo};
    auto r = send(post, Access::push, Retry::here, budget, repo);
    if (r.ok() && r->status == 201) {
      log_verbose("blob " + d.digest + " mounted from " + other);
      return true;
    }
    if (r.ok() && r->status == 202) {
      if (auto loc = location_of(*r, post); loc.ok()) {
        HttpRequest cancel{"DELETE", *loc};
        AttemptBudget once(policy_);
        (void)send(cancel, Access::push, Retry::caller,
                   once);  // best effort: sessions expire anyway
      }
    } else {
      log_verbose("mount of " + d.digest + " from " + other +
                  " failed: " + (r.ok() ? r->error_summary() : r.error().message));
    }
    return has_blob(d);
  }

  Result<std::optional<FetchedManifest>> get_manifest(const std::string& reference) override {
    AttemptBudget budget(policy_);
    StringSink body(kMaxManifestBytes);
    HttpRequest req{"GET", base_ + "/manifests/" + reference, {kAccept}};
    auto r = RC_TRY(fetch_small(req, &body, budget));
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
    AttemptBudget budget(policy_);
    HttpBody body{"", bytes};
    HttpRequest req{"PUT", base_ + "/manifests/" + tag, {"Content-Type: " + media_type}};
    req.body = &body;
    for (;;) {
      auto r = RC_TRY(send(req, Access::push, Retry::here, budget));
      if (r.status == 201 || r.status == 200) return sha256_digest(bytes);
      // distribution briefly fails to read a blob that a concurrent upload of the same
      // content is re-linking (DIGEST_INVALID / BLOB_UNKNOWN): a moment later it is there.
      // MANIFEST_BLOB_UNKNOWN is not that: a blob is really missing (fail() says so).
      auto errors = r.errors();
      bool racing = r.status == 400 && (has_code(errors, RegistryCode::digest_invalid) ||
                                        has_code(errors, RegistryCode::blob_unknown));
      if (!racing) return fail(req, r);
      log_verbose("PUT manifest " + tag + ": " + r.error_summary() + " (retrying)");
      RC_CHECK(budget.retry_after(fail(req, r)));
    }
  }

  Status delete_manifest(const std::string& digest) override {
    AttemptBudget budget(policy_);
    HttpRequest req{"DELETE", base_ + "/manifests/" + digest};
    auto r = RC_TRY(send(req, Access::remove, Retry::here, budget));
    if (r.status == 202 || r.status == 200) return {};
    if (r.status == 404)
      return make_error(ErrorKind::not_found, "no manifest " + digest + " in " + describe());
    if (r.status == 405) {
      return make_error(ErrorKind::unsupported,
                        describe() + " does not allow deleting manifests (HTTP 405)");
    }
    return fail(req, r);
  }

  // Follows the tag list's pages on this registry only, each page once, at most
  // kMaxTagPages of them: a registry that points elsewhere or in circles is an error.
  Result<std::vector<std::string>> list_tags() override {
    TagList list;
    std::set<std::string> seen;
    std::string url = base_ + "/tags/list?n=1000";
    for (int page = 0; !url.empty(); ++page) {
      if (page == kMaxTagPages || !seen.insert(url).second) {
        return make_error(ErrorKind::integrity,
                          describe() + ": the tag list " +
                              (page == kMaxTagPages ? "has too many pages" : "pages in a circle"));
      }
      AttemptBudget budget(policy_);
      StringSink body(kMaxTagPageBytes);
      HttpRequest req{"GET", url};
      auto r = RC_TRY(fetch_small(req, &body, budget));
      if (r.status == 404) return std::move(list.tags);  // NAME_UNKNOWN: an empty repository
      if (r.status != 200) return fail(req, r);
      // "tags": null is how distribution answers for a repository without tags.
      if (auto st = append_tag_page(body.str(), &list); !st.ok())
        return make_error(ErrorKind::integrity, st.error().message + " from " + describe());
      url = RC_TRY(next_link(r.header("link"), url));
    }
    return std::move(list.tags);
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

  // Resolves a URL the registry sent (a redirect, an upload location, a next page) and
  // refuses one that would leave https for plain http: only a loopback store on plain
  // http may go on to loopback http.
  Result<std::string> resolve(const std::string& location, const std::string& request_url,
                              const char* what) const {
    std::string url;
    if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) {
      url = location;
    } else if (!location.empty() && location[0] == '/') {
      url = url_origin(request_url) + location;
    } else {
      url = request_url.substr(0, request_url.rfind('/') + 1) + location;
    }
    if (url.rfind("http://", 0) == 0 && base_.rfind("https://", 0) == 0) {
      return make_error(ErrorKind::hostile, describe() + ": refusing " + what +
                                                " to plain http on " + url_host(url) +
                                                " (the store is https)");
    }
    return url;
  }

  Result<std::string> next_link(const std::string& link, const std::string& url) const {
    std::string target = next_link_target(link);
    if (target.empty()) return std::string();
    std::string next = RC_TRY(resolve(target, url, "a tag list page"));
    if (!same_origin(next, base_)) {
      return make_error(ErrorKind::hostile,
                        describe() + ": the tag list points to another host, " + url_host(next));
    }
    return next;
  }

  Result<std::string> location_of(const HttpResponse& r, const HttpRequest& req) {
    std::string loc = r.header("location");
    if (loc.empty()) {
      // A 202 cut before its headers ended looks like this: worth another try.
      return make_error(ErrorKind::network,
                        req.method + " " + redact_url(req.url) + ": no Location in the answer");
    }
    return resolve(loc, req.url, "an upload location");
  }

  Status upload_once(const Descriptor& d, const BlobSource& src, AttemptBudget& budget) {
    HttpRequest post{"POST", base_ + "/blobs/uploads/"};
    auto r = RC_TRY(send(post, Access::push, Retry::here, budget));
    if (r.status != 202) return fail(post, r);
    std::string location = RC_TRY(location_of(r, post));
    if (!src.file.empty() && d.size > opts_.chunk_threshold) {
      location = RC_TRY(upload_chunks(location, d, src, budget));
      return finish_upload(location, d, nullptr, budget);
    }
    HttpBody body = body_of(src);
    return finish_upload(location, d, &body, budget);
  }

  Result<std::string> upload_chunks(std::string location, const Descriptor& d,
                                    const BlobSource& src, AttemptBudget& budget) {
    for (uint64_t off = 0; off < d.size; off += opts_.chunk_size) {
      uint64_t len = std::min(opts_.chunk_size, d.size - off);
      HttpBody part{src.file, "", off, len};
      HttpRequest req{
          "PATCH",
          location,
          {"Content-Type: application/octet-stream",
           "Content-Range: " + std::to_string(off) + "-" + std::to_string(off + len - 1)}};
      req.body = &part;
      auto r = RC_TRY(send(req, Access::push, Retry::caller, budget));
      if (r.status != 202) return fail(req, r);
      location = RC_TRY(location_of(r, req));
    }
    return location;
  }

  Status finish_upload(const std::string& location, const Descriptor& d, const HttpBody* body,
                       AttemptBudget& budget) {
    std::string url =
        location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + d.digest;
    HttpRequest req{"PUT", url, {"Content-Type: application/octet-stream"}};
    req.body = body;
    auto r = RC_TRY(send(req, Access::push, Retry::caller, budget));
    if (r.status == 201 || r.status == 204) return {};
    return fail(req, r);
  }

  Error fail(const HttpRequest& req, const HttpResponse& r) const {
    ErrorKind kind = ErrorKind::generic;
    auto errors = r.errors();
    if (retryable_status(r.status)) kind = ErrorKind::network;
    // A lost upload session (expired, or spoiled by a cut) is restarted by put_blob.
    if ((r.status == 404 && has_code(errors, RegistryCode::blob_upload_unknown)) ||
        (r.status == 416 && req.method == "PATCH")) {
      kind = ErrorKind::network;
    }
    if (r.status == 401 || r.status == 403) kind = ErrorKind::auth;
    if (r.status == 400 && has_code(errors, RegistryCode::digest_invalid))
      kind = ErrorKind::integrity;
    if (r.status == 400 && req.method == "PUT" &&
        has_code(errors, RegistryCode::manifest_blob_unknown))
      kind = ErrorKind::not_found;  // the manifest names a blob the registry lacks
    return make_error(kind, req.method + " " + redact_url(req.url) + ": " + r.error_summary());
  }

  Error timed_out() const {
    return make_error(ErrorKind::timeout, describe() + ": gave up, the time budget ran out");
  }

  // Returns the milliseconds left before the deadline (0: none set), or a timeout error.
  // Rounded up: a request never gives up before the deadline (truncating made a 1 s
  // timeout end after 0.99997 s).
  Result<long> time_left() const { return ms_left(opts_.deadline, describe()); }

  static bool range_starts_at(const std::string& content_range, uint64_t offset) {
    // Content-Range: bytes START-END/TOTAL
    auto sp = content_range.find(' ');
    if (sp == std::string::npos) return false;
    std::string start = std::to_string(offset) + "-";
    return content_range.compare(sp + 1, start.size(), start) == 0;
  }

  // GETs a small body into memory; a transfer cut mid-body starts again from scratch.
  Result<HttpResponse> fetch_small(HttpRequest req, StringSink* body, AttemptBudget& budget) {
    req.sink = body;
    for (;;) {
      body->str().clear();
      auto r = send(req, Access::pull, Retry::here, budget);
      if (r.ok() || r.error().kind != ErrorKind::network) return r;
      log_verbose(r.error().message + " (fetching again)");
      RC_CHECK(budget.retry_after(r.error()));
    }
  }

  // Sends a request with auth and redirects; retries transient failures from `budget`
  // (Retry::here) or leaves them to the caller (Retry::caller: upload bodies, whose session
  // a cut may have spoiled). Returns the final response. `pull_from` names another
  // repository the token must also allow pulling from (a cross-repository mount).
  Result<HttpResponse> send(HttpRequest req, Access access, Retry retry, AttemptBudget& budget,
                            const std::string& pull_from = "") {
    if (access == Access::push) wait_prepared();  // its token, rather than a challenge
    return send_now(std::move(req), access, retry, budget, pull_from);
  }

  // Waits for what prepare_writes started, if anything.
  void wait_prepared() {
    std::shared_future<void> p;
    {
      std::lock_guard lock(warm_mu_);
      p = prepared_;
    }
    if (p.valid()) p.wait();
  }

  // send, without waiting for prepare_writes.
  Result<HttpResponse> send_now(HttpRequest req, Access access, Retry retry, AttemptBudget& budget,
                                const std::string& pull_from = "") {
    std::string sc = scope(ref_.repository, access);
    if (!pull_from.empty()) sc += " " + scope(pull_from, Access::pull);
    const std::string registry_origin = url_origin(base_);
    bool challenged = false;
    int redirects = 0;
    for (;;) {
      RC_CHECK(check_interrupted());
      HttpRequest r = req;
      CountingSink counter(req.sink);
      if (req.sink) r.sink = &counter;
      r.stall_seconds = opts_.stall_seconds;
      r.timeout_ms = RC_TRY(time_left());
      std::string sent_auth;  // the Authorization line this attempt carries
      if (same_origin(r.url, registry_origin)) {
        sent_auth = auth_.header_for(sc);
        if (!sent_auth.empty()) r.headers.push_back(sent_auth);
      }
      auto resp = http_->perform(r);
      bool consumed = counter.bytes > 0;
      if (!resp.ok()) {
        if (resp.error().kind == ErrorKind::network) RC_TRY(time_left());
        if (resp.error().kind != ErrorKind::network || consumed || retry == Retry::caller)
          return resp.error();
        log_verbose(resp.error().message + " (retrying)");
        RC_CHECK(budget.retry_after(resp.error()));
        continue;
      }
      long s = resp->status;
      if (s == 401 && same_origin(r.url, registry_origin)) {
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
        // A token service that cannot be reached or answers 429/5xx is tried again under
        // the operation's budget, as the registry itself would be.
        for (;;) {
          Status met = auth_.on_challenge(resp->header("www-authenticate"), sc, sent_auth);
          if (met.ok()) break;
          if (met.error().kind != ErrorKind::network) return met.error();
          log_verbose(met.error().message + " (retrying)");
          RC_CHECK(budget.retry_after(met.error()));
        }
        continue;
      }
      if ((s == 301 || s == 302 || s == 303 || s == 307 || s == 308) &&
          !resp->header("location").empty()) {
        if (++redirects > kMaxRedirects)
          return make_error(ErrorKind::network, "too many redirects from " + describe());
        req.url = RC_TRY(resolve(resp->header("location"), r.url, "a redirect"));
        if (s == 303) req.method = "GET";
        continue;
      }
      if (retryable_status(s) && !consumed && retry == Retry::here) {
        log_verbose(r.method + " " + redact_url(r.url) + ": HTTP " + std::to_string(s) +
                    " (retrying)");
        RC_CHECK(budget.retry_after(fail(r, *resp), resp->header("retry-after")));
        continue;
      }
      return resp;
    }
  }

  StoreRef ref_;
  RegistryOptions opts_;
  RetryPolicy policy_;
  std::shared_ptr<HttpTransport> http_;
  Authorizer auth_;
  std::string base_;
  std::mutex warm_mu_;
  size_t warmed_ = 0;                  // connections asked for by warm_up
  std::shared_future<void> prepared_;  // prepare_writes
  std::atomic<int> ranged_{0};         // blobs being fetched as ranges
};

}  // namespace

std::unique_ptr<Store> make_registry_store(const StoreRef& ref, std::optional<Credentials> creds,
                                           const RegistryOptions& options,
                                           std::shared_ptr<HttpTransport> transport) {
  if (!transport) transport = std::make_shared<HttpClient>(options.tls, options.proxies);
  return std::make_unique<RegistryStore>(ref, std::move(creds), options, std::move(transport));
}

}  // namespace regcache
