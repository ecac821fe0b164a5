// The pieces of URLs the registry clients need: origins and hosts (to keep Authorization
// and tokens on the host they belong to), percent-encoding, and Link: <…>; rel="next".
#pragma once

#include <string>

namespace regcache {

// Returns "scheme://host[:port]" of a URL.
std::string url_origin(const std::string& url);

// Returns "host[:port]" of a URL.
std::string url_host(const std::string& url);

// Returns s percent-encoded for a URL query or path segment (RFC 3986 unreserved kept).
std::string url_escape(const std::string& s);

// Returns the target of the rel="next" link of a Link header value, or "".
std::string next_link_target(const std::string& link_header);

}  // namespace regcache
