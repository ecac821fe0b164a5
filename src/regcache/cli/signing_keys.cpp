#include "regcache/cli/signing_keys.hpp"

#include <openssl/crypto.h>

#include "regcache/cli/context.hpp"
#include "regcache/cli/exit_codes.hpp"
#include "regcache/cli/settings.hpp"
#include "regcache/util/fs.hpp"

namespace regcache {

namespace {

template <class T>
T or_usage_error(Result<T> r) {
  if (!r.ok()) throw CommandError(kExitUsage, r.error().message);
  return std::move(r).value();
}

std::string read_key_file(const std::string& file, const char* option) {
  auto text = read_file(file);
  if (!text.ok()) throw CommandError(kExitUsage, std::string(option) + ": " + text.error().message);
  return std::move(text).value();
}

// The PEM text a key variable holds: the value itself, or, when it holds no PEM block, the
// content of the file it names (a GitLab "File" variable, whose value is a path).
std::string variable_pem(const std::string& value, const char* name) {
  if (value.find("-----BEGIN ") != std::string::npos) return value;
  auto text = read_file(value);
  if (!text.ok())
    throw CommandError(
        kExitUsage, std::string(name) + " holds neither a PEM key nor the path of a readable file");
  return std::move(text).value();
}

}  // namespace

std::optional<Ed25519Key> load_signing_key(const std::string& file) {
  if (file.empty() && settings().signing_key.empty()) return std::nullopt;
  if (file.empty()) {
    std::string pem = variable_pem(settings().signing_key, "REGCACHE_SIGNING_KEY");
    auto key = Ed25519Key::from_private_pem(pem, "REGCACHE_SIGNING_KEY");
    OPENSSL_cleanse(pem.data(), pem.size());
    return or_usage_error(std::move(key));
  }
  std::string pem = read_key_file(file, "--sign-key");
  auto key = Ed25519Key::from_private_pem(pem, file);
  OPENSSL_cleanse(pem.data(), pem.size());
  return or_usage_error(std::move(key));
}

std::vector<Ed25519Key> load_verify_keys(const std::vector<std::string>& files) {
  if (files.empty()) {
    if (settings().verify_keys.empty()) return {};
    return or_usage_error(Ed25519Key::from_public_pems(
        variable_pem(settings().verify_keys, "REGCACHE_VERIFY_KEYS"), "REGCACHE_VERIFY_KEYS"));
  }
  std::vector<Ed25519Key> keys;
  for (const auto& f : files) {
    for (auto& k :
         or_usage_error(Ed25519Key::from_public_pems(read_key_file(f, "--verify-key"), f)))
      keys.push_back(std::move(k));
  }
  return keys;
}

}  // namespace regcache
