#include "regcache/util/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "regcache/util/fs.hpp"

extern char** environ;

namespace regcache {

namespace {

constexpr size_t kErrTail = 64 << 10;

// Closes a descriptor once, when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

struct Pipes {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  bool open() {
    return ::pipe2(in, O_CLOEXEC) == 0 && ::pipe2(out, O_CLOEXEC) == 0 &&
           ::pipe2(err, O_CLOEXEC) == 0;
  }
  void close_all() {
    for (int* p : {in, out, err}) {
      for (int i : {0, 1}) {
        if (p[i] >= 0) ::close(p[i]);
        p[i] = -1;
      }
    }
  }
};

Result<pid_t> spawn(const CommandSpec& spec, Pipes& p) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p.in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, p.out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, p.err[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: a timeout kills what it started too
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  sigaddset(&def, SIGINT);
  sigaddset(&def, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &def);
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  if (spec.env) {
    for (const auto& e : *spec.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), spec.env ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return errno_error("cannot run", spec.argv[0], rc);
  return pid;
}

}  // namespace

Result<CommandResult> run_command(const CommandSpec& spec) {
  if (spec.argv.empty()) return make_error(ErrorKind::usage, "no command to run");
  Pipes p;
  if (!p.open()) {
    p.close_all();
    return errno_error("cannot run", spec.argv[0], errno);
  }
  auto pid = spawn(spec, p);
  Fd in{p.in[1]}, out{p.out[0]}, err{p.err[0]};
  ::close(p.in[0]);
  ::close(p.out[1]);
  ::close(p.err[1]);
  if (!pid.ok()) return pid.error();
  ::fcntl(in.fd, F_SETFL, O_NONBLOCK);
  CommandResult r;
  size_t written = 0;
  if (spec.input.empty()) in.reset();
  const auto deadline = std::chrono::steady_clock::now() + spec.timeout;
  std::string problem;
  while (out.fd >= 0 || err.fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      problem = "did not finish within " + std::to_string(spec.timeout.count() / 1000) + "s";
      break;
    }
    pollfd fds[3] = {{out.fd, POLLIN, 0}, {err.fd, POLLIN, 0}, {in.fd, POLLOUT, 0}};
    int n = ::poll(fds, 3, static_cast<int>(std::min<long>(left.count(), 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      problem = "poll failed";
      break;
    }
    char buf[16384];
    for (auto [fd, dest] : {std::pair{&out, &r.out}, std::pair{&err, &r.err}}) {
      pollfd& f = fds[fd == &out ? 0 : 1];
      if (fd->fd < 0 || !(f.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fd->fd, buf, sizeof buf);
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        fd->reset();
        continue;
      }
      dest->append(buf, static_cast<size_t>(got));
      if (dest == &r.err && r.err.size() > kErrTail) r.err.erase(0, r.err.size() - kErrTail);
    }
    if (r.out.size() > spec.max_output) {
      problem = "wrote more than " + std::to_string(spec.max_output) + " bytes";
      break;
    }
    if (in.fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in.fd, spec.input.data() + written, spec.input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) in.reset();
      if (written == spec.input.size()) in.reset();
    }
  }
  if (!problem.empty()) ::kill(-*pid, SIGKILL);
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!problem.empty()) return make_error(ErrorKind::generic, spec.argv[0] + " " + problem);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string last_lines(const std::string& text, size_t n) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
    pos = nl + 1;
  }
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i)
    out += (out.empty() ? "" : " | ") + lines[i];
  return out;
}

}  // namespace regcache
