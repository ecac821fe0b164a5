// A small HTTP client over libcurl: one pool of reusable easy handles sharing a
// connection, DNS and TLS-session cache, safe to call from several threads. Redirects are
// not followed here (the registry client decides what to do with them).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "regcache/store/registry/ca_bundle.hpp"
#include "regcache/store/registry/proxy_env.hpp"
#include "regcache/store/registry/registry_errors.hpp"
#include "regcache/util/result.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

class TrustAnchors;

enum class TlsVerify { on, off };

struct TlsOptions {
  TlsVerify verify = TlsVerify::on;
  CaLocations ca;  // the trust anchors (find_ca_locations); both empty: libcurl's default
};

// A request body: a file (or a range of it), or bytes in memory when file is empty.
struct HttpBody {
  std::string file;
  std::string bytes;
  uint64_t offset = 0;  // with file: where the bytes start
  uint64_t length = 0;  // with file: how many bytes (0: to the end of the file)
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  const HttpBody* body = nullptr;    // request body, if any
  Sink* sink = nullptr;              // receives a 2xx response body; else it is captured
  long stall_seconds = 30;           // no progress for this long fails the transfer
  long timeout_ms = 0;               // whole-transfer limit; 0 for none
  // Asks for the body from this offset (Range); a server answering 200 with the whole
  // body has the first range_from bytes dropped before the sink sees them.
  uint64_t range_from = 0;
  // With range_from: asks for this many bytes only (0: to the end). A server answering
  // 200 with the whole body then delivers nothing to the sink: the response says 200.
  uint64_t range_length = 0;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined by '\n'
  std::string body;                            // captured body (non-2xx, or no sink), capped
  uint64_t sink_bytes = 0;                     // bytes handed to the request's sink
  // Returns the header value or an empty string.
  std::string header(const std::string& lower_name) const;
  // Returns "HTTP <status>" plus the first registry (or token service) error in the body.
  std::string error_summary() const;
  // Returns the registry errors the captured body lists.
  std::vector<RegistryError> errors() const { return parse_registry_errors(body); }
};

// Whatever performs requests: libcurl (HttpClient), or a script in tests.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Performs one request; transport failures are ErrorKind::network errors, any HTTP
  // status is a successful response.
  virtual Result<HttpResponse> perform(const HttpRequest& request) = 0;
  // Sends `count` copies of request in the background, each on a connection of its own,
  // to be reused by the requests that follow; returns at once. Best effort.
  virtual void warm_up(const HttpRequest& request, size_t count) {
    (void)request;
    (void)count;
  }
};

class HttpClient : public HttpTransport {
 public:
  // proxies: the environment's, for the error of a request that could not go through.
  explicit HttpClient(TlsOptions tls, ProxyEnv proxies = {});
  ~HttpClient() override;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  Result<HttpResponse> perform(const HttpRequest& request) override;
  // While a warm-up request runs on a connection already made, a request that finds no
  // idle connection waits for that one instead of opening another.
  void warm_up(const HttpRequest& request, size_t count) override;

 private:
  void* acquire();
  void release(void* handle);
  Result<HttpResponse> perform_on(void* handle, const HttpRequest& request,
                                  const std::function<void()>& on_connected = {});
  TlsOptions tls_;
  ProxyEnv proxies_;
  std::unique_ptr<TrustAnchors> anchors_;  // tls_.ca parsed once; null: curl's own loading
  void* share_ = nullptr;
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<void*> pool_;
  size_t connected_warmups_ = 0;      // warm-up requests in flight on a connection made
  std::vector<std::thread> warmers_;  // joined by the destructor
  std::mutex share_mu_[8];
  friend struct ShareLock;
};

}  // namespace regcache
