#include "regcache/store/registry/github_packages.hpp"

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <utility>

#include "regcache/store/registry/urls.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

constexpr size_t kMaxPages = 1000;  // 100 versions a page

class GithubPackagesStore : public Store {
 public:
  GithubPackagesStore(std::unique_ptr<Store> inner, const StoreRef& ref, GithubPackagesOptions o)
      : inner_(std::move(inner)),
        opts_(std::move(o)),
        http_(opts_.transport ? opts_.transport
                              : std::make_shared<HttpClient>(opts_.tls, opts_.proxies)) {
    auto slash = ref.repository.find('/');
    owner_ = ref.repository.substr(0, slash);
    package_ = slash == std::string::npos ? "" : ref.repository.substr(slash + 1);
    while (!opts_.api_url.empty() && opts_.api_url.back() == '/') opts_.api_url.pop_back();
  }

  std::string describe() const override { return inner_->describe(); }
  std::string staging_dir() const override { return inner_->staging_dir(); }
  Result<bool> has_blob(const Descriptor& d) override { return inner_->has_blob(d); }
  Result<bool> link_blob(const Descriptor& d, const Store& from) override {
    return inner_->link_blob(d, from);
  }
  // The lookup index is off here unless REGCACHE_LOOKUP_INDEX=1, for the same reason as the
  // usage record below.
  StoreProperties properties() const override {
    StoreProperties p = inner_->properties();
    if (!opts_.lookup_index) p.lookup_index = LookupIndexUse::none;
    return p;
  }
  Status get_blob(const Descriptor& d, Sink* out) override { return inner_->get_blob(d, out); }
  Status put_blob(const Descriptor& d, const BlobSource& s) override {
    return inner_->put_blob(d, s);
  }
  Result<std::optional<FetchedManifest>> get_manifest(const std::string& r) override {
    return inner_->get_manifest(r);
  }
  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    return inner_->put_manifest(tag, bytes, media_type);
  }
  Result<std::vector<std::string>> list_tags() override { return inner_->list_tags(); }
  void warm_up(size_t parallel) override { inner_->warm_up(parallel); }
  void prepare_writes() override { inner_->prepare_writes(); }
  void prepare_reads(const std::string& reference) override { inner_->prepare_reads(reference); }

  // GitHub keeps every superseded manifest as an untagged package version, so a usage
  // tag rewritten by each restore would pile them up: tracking is off here unless
  // REGCACHE_TRACK_USAGE=1 (a record that keeps nothing stands in for the tag).
  UsageRecords* usage() override { return opts_.track_usage ? inner_->usage() : &no_usage_; }

  Status delete_manifest(const std::string& digest) override {
    Status st = inner_->delete_manifest(digest);
    if (st.ok() || st.error().kind != ErrorKind::unsupported) return st;
    log_verbose(st.error().message + "; deleting the package version through the GitHub API");
    return delete_version(digest);
  }

 private:
  Error api_error(const std::string& method, const std::string& url, const HttpResponse& r) {
    std::string message;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("message") && j["message"].is_string())
      message = j["message"].get<std::string>();
    ErrorKind kind = r.status == 401 || r.status == 403 ? ErrorKind::auth : ErrorKind::generic;
    std::string hint;
    if (r.status == 401 || r.status == 403) {
      hint = " (deleting from ghcr.io needs a token with read:packages and delete:packages)";
    }
    return make_error(kind, "GitHub API " + method + " " + redact_url(url) + ": HTTP " +
                                std::to_string(r.status) + (message.empty() ? "" : ": " + message) +
                                hint);
  }

  Result<HttpResponse> call(const std::string& method, const std::string& url, Sink* sink) {
    if (opts_.token.empty()) {
      return make_error(ErrorKind::auth,
                        describe() +
                            " refuses manifest deletes; deleting through the GitHub API needs "
                            "GITHUB_TOKEN (with read:packages and delete:packages)");
    }
    HttpRequest req{method,
                    url,
                    {"Authorization: Bearer " + opts_.token, "Accept: application/vnd.github+json",
                     "X-GitHub-Api-Version: 2022-11-28"}};
    req.sink = sink;
    AttemptBudget budget(opts_.retry);
    for (;;) {
      req.timeout_ms = RC_TRY(ms_left(opts_.retry.deadline, "GitHub API " + method));
      auto r = http_->perform(req);
      bool transient = !r.ok() ? r.error().kind == ErrorKind::network
                               : (retryable_status(r->status) && (!sink || r->sink_bytes == 0));
      if (!transient) return r;
      Error why =
          r.ok() ? make_error(ErrorKind::network, "GitHub API " + method + " " + redact_url(url) +
                                                      ": HTTP " + std::to_string(r->status))
                 : r.error();
      RC_CHECK(budget.retry_after(why, r.ok() ? r->header("retry-after") : ""));
    }
  }

  // Reads the next page of versions into the cache; false when there is none.
  Result<bool> next_page() {
    if (listing_done_) return false;
    if (next_url_.empty()) {
      route_ = route_.empty() ? "orgs" : route_;
      next_url_ = opts_.api_url + "/" + route_ + "/" + url_escape(owner_) + "/packages/container/" +
                  url_escape(package_) + "/versions?per_page=100";
    }
    StringSink body(16 << 20);
    auto r = RC_TRY(call("GET", next_url_, &body));
    if (r.status == 404 && route_ == "orgs" && versions_.empty()) {
      route_ = "users";  // the owner is a user, not an organization
      next_url_.clear();
      return next_page();
    }
    if (r.status != 200) return api_error("GET", next_url_, r);
    auto j = nlohmann::json::parse(body.str(), nullptr, false);
    if (!j.is_array())
      return make_error(ErrorKind::integrity, "GitHub API: malformed version list");
    for (const auto& v : j) {
      if (v.is_object() && v.contains("id") && v["id"].is_number_integer() && v.contains("name") &&
          v["name"].is_string()) {
        versions_[v["name"].get<std::string>()] = v["id"].get<int64_t>();
      }
    }
    next_url_ = next_link_target(r.header("link"));
    // The token goes with every request: follow pages on the API's own origin only, each
    // page once, and not without end.
    if (!next_url_.empty() && !same_origin(next_url_, opts_.api_url)) {
      return make_error(ErrorKind::hostile,
                        "GitHub API: the next page of versions is on another host (" +
                            redact_url(url_origin(next_url_)) + "); not following it");
    }
    if (!next_url_.empty() &&
        (!pages_seen_.insert(next_url_).second || pages_seen_.size() > kMaxPages)) {
      return make_error(ErrorKind::integrity,
                        "GitHub API: the version list pages in a circle or without end");
    }
    if (next_url_.empty()) listing_done_ = true;
    return true;
  }

  Status delete_version(const std::string& digest) {
    while (!versions_.count(digest) && RC_TRY(next_page())) {
    }
    auto it = versions_.find(digest);
    if (it == versions_.end()) {
      return make_error(ErrorKind::not_found, "no package version " + digest + " of " + owner_ +
                                                  "/" + package_ + " in the GitHub API");
    }
    std::string url = opts_.api_url + "/" + route_ + "/" + url_escape(owner_) +
                      "/packages/container/" + url_escape(package_) + "/versions/" +
                      std::to_string(it->second);
    auto r = RC_TRY(call("DELETE", url, nullptr));
    if (r.status != 204 && r.status != 200 && r.status != 404) return api_error("DELETE", url, r);
    versions_.erase(it);
    return {};
  }

  // Records nothing and reads nothing back.
  struct NoUsage : UsageRecords {
    Result<UsageTimes> read_uses() override { return UsageTimes{}; }
    Status record_use(const std::string&, const std::string&) override { return {}; }
  };

  std::unique_ptr<Store> inner_;
  GithubPackagesOptions opts_;
  NoUsage no_usage_;
  std::shared_ptr<HttpTransport> http_;
  std::set<std::string> pages_seen_;
  std::string owner_, package_;
  std::string route_;     // "orgs" or "users", once known
  std::string next_url_;  // next page of the listing
  bool listing_done_ = false;
  std::map<std::string, int64_t> versions_;  // name (manifest digest) -> version id
};

}  // namespace

bool is_github_packages_host(const std::string& host, const std::string& extra_host) {
  return host == "ghcr.io" || (!extra_host.empty() && host == extra_host);
}

std::unique_ptr<Store> wrap_github_packages(std::unique_ptr<Store> inner, const StoreRef& ref,
                                            GithubPackagesOptions options) {
  return std::make_unique<GithubPackagesStore>(std::move(inner), ref, std::move(options));
}

}  // namespace regcache
