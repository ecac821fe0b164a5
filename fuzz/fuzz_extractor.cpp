// Fuzz target for safe extraction: each input is a tar stream extracted, once refusing and
// once allowing external symlinks, into a fresh temporary directory laid out as
//   TMP/sandbox/stage-{ws,home,abs}   the staging locations of three cache roots
//   TMP/outside/canary                a file the archive must never reach
// and then checked: nothing appeared, changed or got hard-linked outside the staging
// locations; only files, directories and symlinks exist, none setuid/setgid; with external
// symlinks refused, every symlink resolves (following the other symlinks on disk, as the
// kernel would) inside its root; no file descriptor is left open. TMP is removed after. A
// third pass reads the input as a delta layer (whiteouts scanned first, then a mask).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "regcache/archive/extractor.hpp"
#include "regcache/archive/layer_mask.hpp"
#include "regcache/archive/tar_reader.hpp"

using namespace regcache;

namespace {

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "fuzz_extractor: %s\n", why.c_str());
  std::abort();
}

std::set<std::string> list_dir(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) fail("cannot list " + dir);
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.insert(n);
  }
  ::closedir(d);
  return names;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t slash = s.find('/', pos);
    if (slash == std::string::npos) slash = s.size();
    parts.push_back(s.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out;
}

// Resolves the symlink at stage/<rel> the way the kernel would, following the symlinks
// on disk; returns false when it leads outside the stage (absolute, or above it).
bool resolves_inside(const std::string& stage, const std::string& rel) {
  if (rel.empty()) return false;  // the root itself is a symlink: it points beside itself
  std::vector<std::string> stack = split(rel);
  stack.pop_back();
  std::vector<std::string> todo;  // components still to walk, in reverse order
  auto push_target = [&](const std::string& at) -> bool {
    char buf[4096];
    ssize_t n = ::readlink(at.c_str(), buf, sizeof buf);
    if (n <= 0) fail("cannot read symlink " + at);
    std::string target(buf, static_cast<size_t>(n));
    if (target[0] == '/') return false;
    auto parts = split(target);
    todo.insert(todo.end(), parts.rbegin(), parts.rend());
    return true;
  };
  if (!push_target(stage + join(split(rel)))) return false;
  for (int hops = 0; !todo.empty();) {
    std::string comp = todo.back();
    todo.pop_back();
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      if (stack.empty()) return false;
      stack.pop_back();
      continue;
    }
    std::string path = stage + join(stack) + "/" + comp;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      if (++hops > 40) return true;  // a loop: the kernel gives up (ELOOP)
      if (!push_target(path)) return false;
      continue;
    }
    stack.push_back(comp);  // a directory, a file, or nothing yet: lexical from here
  }
  return true;
}

// Walks a staging location (making directories traversable first) and checks each entry;
// collects regular files with several links by inode.
void check_tree(const std::string& stage, const std::string& rel, ExternalSymlinks links,
                std::map<ino_t, nlink_t>* multi, std::map<ino_t, nlink_t>* seen) {
  std::string path = rel.empty() ? stage : stage + "/" + rel;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) fail("cannot stat " + path);
  if (st.st_mode & 06000) fail("setuid/setgid bit on " + path);
  if (S_ISLNK(st.st_mode)) {
    if (links == ExternalSymlinks::refuse && !resolves_inside(stage, rel))
      fail("symlink resolves outside its root: " + path);
  } else if (S_ISREG(st.st_mode)) {
    if (st.st_nlink > 1) (*multi)[st.st_ino] = st.st_nlink, ++(*seen)[st.st_ino];
  } else if (S_ISDIR(st.st_mode)) {
    ::chmod(path.c_str(), 0700);
    for (const auto& name : list_dir(path))
      check_tree(stage, rel.empty() ? name : rel + "/" + name, links, multi, seen);
  } else {
    fail("unexpected file type at " + path);
  }
}

size_t open_fds() {
  return list_dir("/proc/self/fd").size();
}

void extract_and_check(const uint8_t* data, size_t size, ExternalSymlinks links, LayerRole role) {
  char tmpl[] = "/tmp/regcache-fuzz-extract.XXXXXX";
  if (!::mkdtemp(tmpl)) fail("mkdtemp");
  std::string tmp = tmpl, sandbox = tmp + "/sandbox", outside = tmp + "/outside";
  ::mkdir(sandbox.c_str(), 0700);
  ::mkdir(outside.c_str(), 0700);
  std::string canary = outside + "/canary";
  FILE* f = std::fopen(canary.c_str(), "w");
  std::fputs("canary", f);
  std::fclose(f);
  struct stat before {};
  ::lstat(canary.c_str(), &before);
  size_t fds = open_fds();
  int parent = ::open(sandbox.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  {
    DirFixups fixups;
    Extractor ex({{"ws/a", parent, "stage-ws"},
                  {"home/b", parent, "stage-home"},
                  {"abs/tmp/c", parent, "stage-abs"}},
                 links, &fixups);
    // As a delta layer: its headers are scanned first, as a restore does, and the layer is
    // then extracted under the mask it makes (its whiteouts are markers).
    LayerMask mask;
    Status st;
    if (role == LayerRole::delta) {
      LayerScan::Budget budget;
      LayerScan scan({"ws/a", "home/b", "abs/tmp/c"}, &budget);
      TarReader headers(&scan);
      st = headers.write(reinterpret_cast<const char*>(data), size);
      if (st.ok()) st = headers.finish();
      if (st.ok()) st = mask.add(1, scan.marks());
      ex.stack(&mask, 1, role);
    }
    TarReader reader(&ex);
    if (st.ok()) st = reader.write(reinterpret_cast<const char*>(data), size);
    if (st.ok()) st = reader.finish();
    if (st.ok()) st = fixups.apply();  // as a restore does once every layer is in
  }
  ::close(parent);
  if (open_fds() != fds) fail("file descriptor leak");
  if (list_dir(tmp) != std::set<std::string>{"sandbox", "outside"}) fail("created outside");
  if (list_dir(outside) != std::set<std::string>{"canary"}) fail("created in outside/");
  struct stat after {};
  if (::lstat(canary.c_str(), &after) != 0 || after.st_nlink != 1 ||
      after.st_mode != before.st_mode || after.st_size != before.st_size ||
      after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
      after.st_mtim.tv_nsec != before.st_mtim.tv_nsec)
    fail("outside/canary was changed or linked");
  std::map<ino_t, nlink_t> multi, seen;
  for (const auto& name : list_dir(sandbox)) {
    if (name != "stage-ws" && name != "stage-home" && name != "stage-abs")
      fail("unexpected entry in the sandbox: " + name);
    check_tree(sandbox + "/" + name, "", links, &multi, &seen);
  }
  for (const auto& [ino, n] : multi) {
    if (seen[ino] != n) fail("a hard link leads outside the sandbox");
  }
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  if (ec) fail("cannot remove " + tmp + ": " + ec.message());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  extract_and_check(data, size, ExternalSymlinks::refuse, LayerRole::base);
  extract_and_check(data, size, ExternalSymlinks::allow, LayerRole::base);
  extract_and_check(data, size, ExternalSymlinks::refuse, LayerRole::delta);
  return 0;
}
