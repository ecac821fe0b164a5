// A small HTTP client over libcurl: one pool of reusable easy handles sharing a
// connection, DNS and TLS-session cache, safe to call from several threads. Redirects are
// not followed here (the registry client decides what to do with them).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "regcache/store/registry/ca_bundle.hpp"
#include "regcache/store/registry/registry_errors.hpp"
#include "regcache/util/result.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

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
};

class HttpClient : public HttpTransport {
 public:
  explicit HttpClient(TlsOptions tls);
  ~HttpClient() override;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  Result<HttpResponse> perform(const HttpRequest& request) override;

 private:
  void* acquire();
  void release(void* handle);
  TlsOptions tls_;
  void* share_ = nullptr;
  std::mutex pool_mu_;
  std::vector<void*> pool_;
  std::mutex share_mu_[8];
  friend struct ShareLock;
};

}  // namespace regcache
