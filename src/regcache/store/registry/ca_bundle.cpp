#include "regcache/store/registry/ca_bundle.hpp"

#include <sys/stat.h>

namespace regcache {

const std::vector<std::string>& system_ca_bundles() {
  static const std::vector<std::string> paths = {
      "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Alpine, Arch
      "/etc/pki/tls/certs/ca-bundle.crt",                   // RHEL, CentOS, Fedora
      "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL 7+, Fedora
      "/etc/ssl/ca-bundle.pem",                             // openSUSE, SLES
      "/var/lib/ca-certificates/ca-bundle.pem",             // SUSE's generated bundle
      "/etc/ssl/cert.pem",                                  // macOS, Alpine, BSDs
  };
  return paths;
}

namespace {

Error missing(const std::string& variable, const std::string& path) {
  return make_error(ErrorKind::usage, variable + " names " + path + ", which does not exist");
}

}  // namespace

Result<CaLocations> find_ca_locations(const CaVariables& vars,
                                      const std::function<bool(const std::string&)>& exists) {
  if (!vars.regcache_ca_file.empty()) {
    if (!exists(vars.regcache_ca_file)) return missing("REGCACHE_CA_FILE", vars.regcache_ca_file);
    return CaLocations{vars.regcache_ca_file, ""};
  }
  if (!vars.ssl_cert_file.empty() || !vars.ssl_cert_dir.empty()) {
    if (!vars.ssl_cert_file.empty() && !exists(vars.ssl_cert_file))
      return missing("SSL_CERT_FILE", vars.ssl_cert_file);
    if (!vars.ssl_cert_dir.empty() && !exists(vars.ssl_cert_dir))
      return missing("SSL_CERT_DIR", vars.ssl_cert_dir);
    return CaLocations{vars.ssl_cert_file, vars.ssl_cert_dir};
  }
  std::string tried;
  for (const auto& path : system_ca_bundles()) {
    if (exists(path)) return CaLocations{path, ""};
    tried += (tried.empty() ? "" : ", ") + path;
  }
  return make_error(ErrorKind::usage,
                    "no CA certificates found for TLS (REGCACHE_CA_FILE, SSL_CERT_FILE and "
                    "SSL_CERT_DIR are unset; tried " +
                        tried + "); set REGCACHE_CA_FILE to a PEM bundle");
}

Result<CaLocations> find_ca_locations(const CaVariables& vars) {
  return find_ca_locations(vars, [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  });
}

}  // namespace regcache
