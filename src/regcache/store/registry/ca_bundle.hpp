// Where TLS trust anchors come from. A static regcache has no compiled-in CA path that
// fits every image, so the places are searched at run time: REGCACHE_CA_FILE, then
// SSL_CERT_FILE / SSL_CERT_DIR, then the system bundles of the common distributions.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "regcache/util/result.hpp"

namespace regcache {

// The trust anchors to use: a PEM bundle, a hashed certificate directory, or both.
struct CaLocations {
  std::string file;
  std::string dir;
};

// The variables that name trust anchors, as read from the environment ("" when unset).
struct CaVariables {
  std::string regcache_ca_file;  // REGCACHE_CA_FILE
  std::string ssl_cert_file;     // SSL_CERT_FILE
  std::string ssl_cert_dir;      // SSL_CERT_DIR
};

// The system bundles, in the order they are tried (Debian/Ubuntu/Alpine, RHEL/Fedora,
// SUSE, macOS and Alpine's second name).
const std::vector<std::string>& system_ca_bundles();

// Picks the trust anchors: REGCACHE_CA_FILE alone when set, else SSL_CERT_FILE and/or
// SSL_CERT_DIR when set, else the first system bundle that `exists`. The error names a
// variable whose path is missing, or every place tried when none exists.
Result<CaLocations> find_ca_locations(const CaVariables& vars,
                                      const std::function<bool(const std::string&)>& exists);

// find_ca_locations against the real filesystem.
Result<CaLocations> find_ca_locations(const CaVariables& vars);

}  // namespace regcache
