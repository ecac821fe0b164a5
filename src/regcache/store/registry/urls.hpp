// The pieces of URLs the registry clients need: origins and hosts (to keep Authorization
// and tokens on the host they belong to), percent-encoding, and Link: <…>; rel="next".
#pragma once

#include <string>

namespace regcache {

// Returns s with its ASCII letters in lower case (schemes, hosts, header and parameter names).
std::string ascii_lower(std::string s);

// Returns "scheme://host[:port]" of a URL.
std::string url_origin(const std::string& url);

// Returns true when two URLs have the same origin: scheme and host compared without case,
// an explicit default port (:443 for https, :80 for http) the same as none.
bool same_origin(const std::string& a, const std::string& b);

// Returns "host[:port]" of a URL.
std::string url_host(const std::string& url);

// Returns s percent-encoded for a URL query or path segment (RFC 3986 unreserved kept).
std::string url_escape(const std::string& s);

// Returns the target of the rel="next" link of a Link header value, or "".
std::string next_link_target(const std::string& link_header);

}  // namespace regcache
