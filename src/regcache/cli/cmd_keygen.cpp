// `regcache keygen --out DIR`: a new Ed25519 key pair for signed entries, as PEM files:
// DIR/regcache.key (private, mode 0600) and DIR/regcache.pub. Existing keys are never
// overwritten, and a failure leaves neither file behind.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/exit_codes.hpp"
#include "regcache/cli/output.hpp"
#include "regcache/util/dir_path.hpp"
#include "regcache/util/ed25519.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

// Creates `name` in dirfd exclusively with `mode` and writes all of text into it.
Status write_new_file(int dirfd, const std::string& name, const std::string& text, mode_t mode,
                      const std::string& shown) {
  UniqueFd fd(
      ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) {
    if (errno == EEXIST)
      return make_error(ErrorKind::exists, shown + " exists; not overwriting a key");
    return errno_error("cannot create", shown, errno);
  }
  Status st;
  for (size_t done = 0; done < text.size() && st.ok();) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      st = errno_error("cannot write", shown, errno);
    else
      done += static_cast<size_t>(n);
  }
  if (st.ok() && (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0))
    st = errno_error("cannot write", shown, errno);
  if (!st.ok()) ::unlinkat(dirfd, name.c_str(), 0);
  return st;
}

void run_keygen(const std::string& out, const GlobalOptions& g) {
  apply_verbosity(g);
  std::error_code ec;
  std::string dir = std::filesystem::absolute(out, ec).lexically_normal().string();
  if (ec || out.empty())
    throw CommandError(kExitUsage, "--out: not a usable directory path: " + out);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  auto opened = unwrap(open_directory(dir, MissingDirs::create));
  // Whoever may replace files there could swap the pair for one they know.
  struct stat dst {};
  if (::fstat(opened.fd.get(), &dst) == 0 &&
      (((dst.st_mode & 022) != 0 && (dst.st_mode & S_ISVTX) == 0) ||
       (dst.st_uid != ::geteuid() && dst.st_uid != 0)))
    throw CommandError(kExitError, "--out " + dir +
                                       ": other users may replace files there; choose a "
                                       "directory only you can write to");
  const std::string key_path = dir + "/regcache.key", pub_path = dir + "/regcache.pub";
  for (const auto& [name, shown] :
       {std::pair{"regcache.key", key_path}, std::pair{"regcache.pub", pub_path}}) {
    if (::faccessat(opened.fd.get(), name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
      throw CommandError(kExitError, shown + " exists; not overwriting a key");
  }
  Ed25519Key key = unwrap(Ed25519Key::generate());
  std::string private_pem = unwrap(key.private_pem());
  Status st = write_new_file(opened.fd.get(), "regcache.key", private_pem, 0600, key_path);
  OPENSSL_cleanse(private_pem.data(), private_pem.size());
  unwrap(std::move(st));
  st = write_new_file(opened.fd.get(), "regcache.pub", unwrap(key.public_pem()), 0644, pub_path);
  if (!st.ok()) ::unlinkat(opened.fd.get(), "regcache.key", 0);
  unwrap(std::move(st));
  if (g.json) {
    print_line(json_line(nlohmann::json{
        {"private_key", key_path}, {"public_key", pub_path}, {"fingerprint", key.fingerprint()}}));
    return;
  }
  log_info("Wrote " + key_path + " (private: keep it secret) and " + pub_path);
  print_line(key.fingerprint());
}

}  // namespace

void add_keygen_command(CLI::App& app, GlobalOptions& g) {
  auto out = std::make_shared<std::string>();
  auto* sub = app.add_subcommand(
      "keygen",
      "Write a new Ed25519 key pair for signed entries (DIR/regcache.key, DIR/regcache.pub)");
  sub->add_option("--out", *out, "Directory to write the two PEM files into (created if missing)")
      ->required();
  sub->callback([out, &g] { run_keygen(*out, g); });
}

}  // namespace regcache
