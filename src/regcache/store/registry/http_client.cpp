#include "regcache/store/registry/http_client.hpp"
#include "regcache/store/registry/urls.hpp"

#include <chrono>

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "regcache/store/registry/trust_anchors.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/json_fields.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

constexpr size_t kMaxCapturedBody = 1 << 20;

struct Transfer {
  const HttpRequest* req;
  HttpResponse* resp;
  CURL* curl;
  int fd = -1;
  size_t bytes_pos = 0;
  uint64_t left = 0;
  uint64_t skip = 0;         // body bytes still to drop (a 200 answer to a Range request)
  bool whole_body = false;   // a 200 answer to a bounded Range request, cut short
  bool body_capped = false;  // a captured body reached kMaxCapturedBody: the rest unread
  Status sink_status;
  // Stall detection: bytes moved either way since the window began, and its length.
  curl_off_t window_bytes = 0;
  std::chrono::steady_clock::time_point window_start = std::chrono::steady_clock::now();
  std::chrono::milliseconds stall_limit{30000};
  bool stalled = false;
  bool interrupted = false;  // a cancelling signal arrived (util/interrupt.hpp)
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp->headers.clear();  // a new response (after 100 Continue, say)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(), ::tolower);
  std::string value = line.substr(colon + 1);
  value.erase(0, value.find_first_not_of(" \t"));
  auto& slot = t->resp->headers[name];
  slot = slot.empty() ? value : slot + "\n" + value;
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (t->req->sink && status == 200 && t->req->range_length > 0) {
    t->whole_body = true;  // a bounded range answered with the whole body: delivered to no one
    return 0;              // ends the transfer
  }
  if (t->req->sink && status >= 200 && status < 300) {
    const size_t total = len;
    if (status == 200 && t->skip > 0) {  // the server ignored Range: drop what we have
      size_t drop = static_cast<size_t>(std::min<uint64_t>(t->skip, len));
      t->skip -= drop;
      data += drop;
      len -= drop;
    }
    if (len == 0) return total;
    t->sink_status = t->req->sink->write(data, len);
    if (!t->sink_status.ok()) return 0;  // aborts the transfer
    t->resp->sink_bytes += len;
    return total;
  }
  if (t->resp->body.size() + len > kMaxCapturedBody) {
    // Enough to say what went wrong: the rest (an endless error page) is not read.
    t->resp->body.append(data, kMaxCapturedBody - t->resp->body.size());
    t->body_capped = true;
    return 0;  // ends the transfer; the response keeps its status
  }
  t->resp->body.append(data, len);
  return len;
}

// Aborts a transfer that moves fewer than kMinBytesPerSecond over a whole stall window, in
// either direction. Judged per window, not "since the last byte": a server trickling a
// byte a second would otherwise keep a transfer alive for ever (curl's own low-speed
// check averages over seconds and misses a stall after a fast start).
constexpr curl_off_t kMinBytesPerSecond = 1024;

int on_progress(void* user, curl_off_t, curl_off_t down, curl_off_t, curl_off_t up) {
  auto* t = static_cast<Transfer*>(user);
  if (interrupt_signal() != 0) {
    t->interrupted = true;
    return 1;
  }
  auto now = std::chrono::steady_clock::now();
  if (now - t->window_start < t->stall_limit) return 0;
  const curl_off_t moved = down + up - t->window_bytes;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(t->stall_limit).count();
  if (moved < kMinBytesPerSecond * std::max<curl_off_t>(1, seconds)) {
    t->stalled = true;
    return 1;
  }
  t->window_bytes = down + up;
  t->window_start = now;
  return 0;
}

size_t on_read(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t want = size * n;
  if (t->fd >= 0) {
    if (t->left == 0) return 0;
    want = static_cast<size_t>(std::min<uint64_t>(want, t->left));
    ssize_t r = ::read(t->fd, buf, want);
    if (r > 0) t->left -= static_cast<uint64_t>(r);
    return r < 0 ? CURL_READFUNC_ABORT : static_cast<size_t>(r);
  }
  const std::string& b = t->req->body->bytes;
  size_t take = std::min(want, b.size() - t->bytes_pos);
  std::memcpy(buf, b.data() + t->bytes_pos, take);
  t->bytes_pos += take;
  return take;
}

void share_lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
  static_cast<std::mutex*>(user)[static_cast<int>(data) % 8].lock();
}

void share_unlock(CURL*, curl_lock_data data, void* user) {
  static_cast<std::mutex*>(user)[static_cast<int>(data) % 8].unlock();
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpResponse::error_summary() const {
  std::string out = "HTTP " + std::to_string(status);
  auto errs = errors();
  if (!errs.empty()) {
    return out + " " + errs[0].code_text + (errs[0].message.empty() ? "" : ": " + errs[0].message);
  }
  auto j = nlohmann::json::parse(body, nullptr, false);  // a token service's {"details": …}
  std::string details = string_field(j, "details");
  if (details.size() > 512) details = details.substr(0, 512) + "…";
  return details.empty() ? out : out + " " + details;
}

namespace {

// Called by libcurl once the connection is made, before the request goes out.
int on_prereq(void* user, char*, char*, int, int) {
  (*static_cast<const std::function<void()>*>(user))();
  return CURL_PREREQFUNC_OK;
}

// Called by libcurl as it sets up a TLS connection: verify against the shared anchors.
CURLcode on_ssl_ctx(CURL*, void* ssl_ctx, void* user) {
  return static_cast<TrustAnchors*>(user)->install(ssl_ctx) ? CURLE_OK : CURLE_SSL_CACERT_BADFILE;
}

}  // namespace

HttpClient::HttpClient(TlsOptions tls, ProxyEnv proxies)
    : tls_(std::move(tls)), proxies_(std::move(proxies)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (tls_.verify == TlsVerify::on && (!tls_.ca.file.empty() || !tls_.ca.dir.empty())) {
    anchors_ = std::make_unique<TrustAnchors>(tls_.ca);
  }
  CURLSH* sh = curl_share_init();
  curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(sh, CURLSHOPT_USERDATA, share_mu_);
  curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  share_ = sh;
}

HttpClient::~HttpClient() {
  for (auto& t : warmers_) t.join();
  for (void* h : pool_) curl_easy_cleanup(static_cast<CURL*>(h));
  curl_share_cleanup(static_cast<CURLSH*>(share_));
}

void* HttpClient::acquire() {
  std::unique_lock lock(pool_mu_);
  // A warm-up whose connection is made frees it within its one request, sooner than a new
  // connection would be set up: wait for it rather than open another.
  if (pool_.empty() && connected_warmups_ > 0) {
    pool_cv_.wait(lock, [&] { return !pool_.empty() || connected_warmups_ == 0; });
  }
  if (!pool_.empty()) {
    void* h = pool_.back();
    pool_.pop_back();
    return h;
  }
  lock.unlock();
  return curl_easy_init();
}

void HttpClient::release(void* handle) {
  {
    std::lock_guard lock(pool_mu_);
    pool_.push_back(handle);
  }
  pool_cv_.notify_one();
}

void HttpClient::warm_up(const HttpRequest& request, size_t count) {
  std::lock_guard lock(pool_mu_);
  for (size_t i = 0; i < count; ++i) {
    warmers_.emplace_back([this, request] {
      CURL* c = curl_easy_init();  // a handle of its own: a connection of its own
      bool connected = false;
      // Best effort: a failure shows on the real requests.
      (void)perform_on(c, request, [&] {
        std::lock_guard made(pool_mu_);
        connected = true;
        ++connected_warmups_;
      });
      {
        std::lock_guard done(pool_mu_);
        pool_.push_back(c);
        if (connected) --connected_warmups_;
      }
      pool_cv_.notify_all();
    });
  }
}

Result<HttpResponse> HttpClient::perform(const HttpRequest& req) {
  CURL* c = static_cast<CURL*>(acquire());
  auto r = perform_on(c, req);
  release(c);
  return r;
}

Result<HttpResponse> HttpClient::perform_on(void* handle, const HttpRequest& req,
                                            const std::function<void()>& on_connected) {
  CURL* c = static_cast<CURL*>(handle);
  curl_easy_reset(c);
  HttpResponse resp;
  Transfer t{&req, &resp, c};
  if (on_connected) {
    curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(c, CURLOPT_PREREQDATA, &on_connected);
  }
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_SHARE, share_);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, std::max(1L, std::min(30L, req.stall_seconds)));
  t.stall_limit = std::chrono::seconds(std::max(1L, req.stall_seconds));
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  if (req.timeout_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "regcache/" REGCACHE_VERSION);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  // One request at a time per connection, so HTTP/2 would add nothing but its flow control:
  // a registry's upload window (Go's default, 1 MiB) caps an upload at a window per round
  // trip. TCP's own window grows with the link (docs/decisions.md, "HTTP/1.1 to registries").
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  if (tls_.verify == TlsVerify::off) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (anchors_ && curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) == CURLE_OK) {
    // The anchors come from on_ssl_ctx; curl loads none of its own (not even its default).
    if (req.url.rfind("https://", 0) == 0) anchors_->preload();  // parses during the connect
    curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, anchors_.get());
    curl_easy_setopt(c, CURLOPT_CAINFO, nullptr);
    curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
  } else {  // a TLS backend without the callback: curl parses the anchors per connection
    if (!tls_.ca.file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, tls_.ca.file.c_str());
    if (!tls_.ca.dir.empty()) curl_easy_setopt(c, CURLOPT_CAPATH, tls_.ca.dir.c_str());
  }
  curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  std::string range =
      "Range: bytes=" + std::to_string(req.range_from) + "-" +
      (req.range_length ? std::to_string(req.range_from + req.range_length - 1) : "");
  if (req.range_from > 0 || req.range_length > 0) {
    headers = curl_slist_append(headers, range.c_str());
    t.skip = req.range_from;
  }
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  if (req.body) {
    uint64_t size = req.body->bytes.size();
    if (!req.body->file.empty()) {
      t.fd = ::open(req.body->file.c_str(), O_RDONLY | O_CLOEXEC);
      if (t.fd < 0) {
        curl_slist_free_all(headers);
        return errno_error("cannot open", req.body->file, errno);
      }
      off_t end = ::lseek(t.fd, 0, SEEK_END);
      uint64_t offset = std::min<uint64_t>(req.body->offset, static_cast<uint64_t>(end));
      ::lseek(t.fd, static_cast<off_t>(offset), SEEK_SET);
      size = static_cast<uint64_t>(end) - offset;
      if (req.body->length) size = std::min(size, req.body->length);
      t.left = size;
    }
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &t);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
  } else if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  }
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  if (t.fd >= 0) ::close(t.fd);
  curl_slist_free_all(headers);
  if (!t.sink_status.ok()) return t.sink_status.error();
  if (t.interrupted) return check_interrupted().error();
  if (t.whole_body) return resp;   // status 200, nothing delivered
  if (t.body_capped) return resp;  // the status and the body's first kMaxCapturedBody bytes
  if (rc != CURLE_OK) {
    ErrorKind kind = ErrorKind::network;
    std::string msg = t.stalled
                          ? "less than 1 KiB/s moved for " + std::to_string(req.stall_seconds) + "s"
                          : std::string(curl_easy_strerror(rc));
    long connect_code = 0;  // the proxy's answer to CONNECT, when there is a proxy
    curl_easy_getinfo(c, CURLINFO_HTTP_CONNECTCODE, &connect_code);
    if (connect_code >= 300) {
      msg = "the proxy answered HTTP " + std::to_string(connect_code) + " to CONNECT";
      if (connect_code == 407) {
        kind = ErrorKind::auth;  // no retry can help: the proxy's user or password is wrong
        msg += " (Proxy Authentication Required)";
      }
    } else if (rc == CURLE_SSL_CACERT_BADFILE && anchors_ && !anchors_->error().empty()) {
      kind = ErrorKind::usage;
      msg = anchors_->error();
    } else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
      // Which anchors refused it: a private CA's file alone does not trust the public CDN a
      // registry may redirect its downloads to.
      const std::string anchors = !tls_.ca.file.empty()  ? tls_.ca.file
                                  : !tls_.ca.dir.empty() ? tls_.ca.dir
                                                         : "the system's CA certificates";
      kind = ErrorKind::auth;
      msg += " (the TLS certificate of " + url_host(req.url) + " is not trusted by " + anchors +
             "; set REGCACHE_CA_FILE to a bundle holding its CA, and the public roots too if "
             "the registry redirects downloads to another host, or --insecure to skip "
             "verification)";
    }
    if (std::string proxy = proxies_.describe_for(req.url); !proxy.empty()) {
      msg += " (through " + proxy + ")";
    }
    return make_error(kind, req.method + " " + redact_url(req.url) + ": " + msg);
  }
  return resp;
}

}  // namespace regcache
