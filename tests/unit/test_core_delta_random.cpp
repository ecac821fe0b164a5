// Random trees, mutated round after round and each saved on the previous entry (so deltas
// stack and compact), restore exactly as saved, and older entries still restore as they were.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "regcache/core/restore.hpp"
#include "regcache/core/save.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/format/key_tag.hpp"
#include "save_workspace.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Path (relative to the saved directory) -> what a restore must give back there.
using DeltaRandomTree = std::map<std::string, std::string>;

// The tree below dir: type, mode, mtime, content (hashed) or link target, and for a hard
// link the first path of its group (in path order, so that readdir order does not matter).
DeltaRandomTree delta_random_snapshot(const std::string& dir) {
  std::map<std::string, struct stat> stats;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    ::lstat(e.path().c_str(), &st);
    stats[e.path().lexically_relative(dir).string()] = st;
  }
  DeltaRandomTree out;
  std::map<ino_t, std::string> first;
  for (const auto& [rel, st] : stats) {
    std::string full = dir + "/" + rel;
    if (S_ISLNK(st.st_mode)) {
      out[rel] = "link -> " + fs::read_symlink(full).string();  // link times: not kept
      continue;
    }
    std::string what = "mode " + std::to_string(st.st_mode & 07777) + " mtime " +
                       std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
    if (S_ISDIR(st.st_mode)) {
      out[rel] = what + " dir";
      continue;
    }
    std::string content = testing::slurp(full);
    what += " file of " + std::to_string(content.size()) + " bytes, hash " +
            std::to_string(std::hash<std::string>()(content));
    if (st.st_nlink > 1) {
      auto [pos, fresh] = first.emplace(st.st_ino, rel);
      if (!fresh) what += ", same inode as " + pos->second;
    }
    out[rel] = what;
  }
  return out;
}

// The paths on which two trees differ, each with both sides.
std::string delta_random_diff(const DeltaRandomTree& want, const DeltaRandomTree& got) {
  std::string out;
  for (const auto& [path, what] : want) {
    auto it = got.find(path);
    if (it == got.end()) {
      out += "  " + path + ": missing (want " + what + ")\n";
    } else if (it->second != what) {
      out += "  " + path + ": got " + it->second + ", want " + what + "\n";
    }
  }
  for (const auto& [path, what] : got)
    if (!want.count(path)) out += "  " + path + ": unexpected (" + what + ")\n";
  return out;
}

const char* const kDeltaRandomNames[] = {"a", "a-1", "a.o", "b",   "c",
                                         "d", "lib", "obj", "x.o", "z"};

// One seed's run: a random tree in a workspace, mutated, saved and restored round by round.
struct DeltaRandomRun : SaveWorkspace {
  uint64_t seed;
  std::mt19937_64 rng;
  std::vector<std::string> log;           // the mutations so far, round by round
  std::vector<DeltaRandomTree> saved;     // saved[n - 1]: the tree entry kn holds
  bool failed = false;                    // the rounds stop at the first failure
  std::map<std::string, timespec> times;  // the mtime each path was last given
  int64_t clock = 1600000000;             // the next mtime handed out

  explicit DeltaRandomRun(uint64_t s) : seed(s), rng(s) {}

  uint64_t below(uint64_t n) { return rng() % n; }
  std::string full(const std::string& rel) const { return rel.empty() ? cache : cache + "/" + rel; }

  std::string bytes(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i += 8) {
      uint64_t r = rng();
      for (size_t k = 0; k < 8 && i + k < n; ++k) s[i + k] = static_cast<char>(r >> (8 * k));
    }
    return s;
  }
  size_t random_size() {
    auto r = below(100);
    if (r < 12) return 0;
    if (r < 18) return 65537 + below(100000);  // above 64 KiB
    return 1 + below(4000);
  }
  void put_file(const std::string& rel, size_t size) {
    testing::write_file(full(rel), bytes(size));
    ::chmod(full(rel).c_str(), below(4) ? 0644 : 0755);
  }
  void put_dir(const std::string& rel) {
    fs::create_directories(full(rel));
    ::chmod(full(rel).c_str(), 0755);
  }
  // A name not yet taken in dir ("" for the top), from a small set so that names recur, or
  // a long one (past tar's 100 bytes, up to the 255 a name may have).
  std::string fresh(const std::string& dir) {
    std::string prefix = dir.empty() ? "" : dir + "/";
    for (int i = 0;; ++i) {
      std::string name = kDeltaRandomNames[below(std::size(kDeltaRandomNames))];
      if (i > 8) name += std::to_string(i);
      if (below(25) == 0) name = std::string(below(2) ? 100 + below(50) : 252 + below(4), 'n');
      if (!testing::exists_nofollow(full(prefix + name))) return prefix + name;
    }
  }
  // A symlink at rel pointing inside the tree (at target, which may not exist).
  void put_symlink(const std::string& rel, const std::string& target) {
    auto to = fs::path(full(target)).lexically_relative(fs::path(full(rel)).parent_path());
    std::string t = to.empty() || to == "." ? "missing" : to.string();
    ::symlink(t.c_str(), full(rel).c_str());
  }

  struct Listing {
    std::vector<std::string> files, dirs{""}, links, linked;  // linked: files with nlink > 1
  };
  Listing list() {
    Listing l;
    for (const auto& e : fs::recursive_directory_iterator(cache)) {
      std::string rel = e.path().lexically_relative(cache).string();
      struct stat st {};
      ::lstat(e.path().c_str(), &st);
      if (S_ISDIR(st.st_mode)) l.dirs.push_back(rel);
      if (S_ISLNK(st.st_mode)) l.links.push_back(rel);
      if (S_ISREG(st.st_mode)) l.files.push_back(rel);
      if (S_ISREG(st.st_mode) && st.st_nlink > 1) l.linked.push_back(rel);
    }
    for (auto* v : {&l.files, &l.dirs, &l.links, &l.linked}) std::sort(v->begin(), v->end());
    return l;
  }
  const std::string& pick(const std::vector<std::string>& v) { return v[below(v.size())]; }

  void build(bool with_wh_file) {
    put_dir("");
    for (int i = 0; i < 8; ++i) put_dir(fresh(pick(list().dirs)));
    for (int i = 0; i < 30; ++i) put_file(fresh(pick(list().dirs)), random_size());
    for (int i = 0; i < 2; ++i) put_file(fresh(pick(list().dirs)), 65537 + below(60000));
    for (int i = 0; i < 3; ++i) {
      auto l = list();
      put_symlink(fresh(pick(l.dirs)), pick(below(2) && !l.files.empty() ? l.files : l.dirs));
    }
    for (int i = 0; i < 2; ++i) {
      auto l = list();
      ::link(full(pick(l.files)).c_str(), full(fresh(pick(l.dirs))).c_str());
    }
    if (with_wh_file) {  // an ordinary file to the user; a marker's name in a delta
      std::string d = pick(list().dirs);
      put_file((d.empty() ? "" : d + "/") + ".wh.keep", 10);
    }
    settle();
  }

  // One random change to the tree, described in the log.
  void mutate() {
    auto l = list();
    std::vector<std::string> subdirs(l.dirs.begin() + 1, l.dirs.end());
    auto op = below(15);
    std::string what;
    if (op == 0 && !l.files.empty()) {
      auto f = pick(l.files);
      std::string s = testing::slurp(full(f));
      if (s.empty()) s = "x";
      s[below(s.size())] ^= static_cast<char>(1 + below(255));  // same size, in place
      std::ofstream(full(f), std::ios::binary | std::ios::trunc) << s;
      what = "rewrite " + f + " (same size)";
    } else if (op == 1 && !l.files.empty()) {
      auto f = pick(l.files);
      std::ofstream(full(f), std::ios::binary | std::ios::trunc) << bytes(random_size());
      what = "rewrite " + f + " (new size)";
    } else if (op == 2 && !l.files.empty()) {
      auto f = pick(below(4) ? l.files : l.links.empty() ? l.files : l.links);
      fs::remove(full(f));
      what = "remove " + f;
    } else if (op == 3 && !subdirs.empty()) {
      auto d = pick(subdirs);
      fs::remove_all(full(d));
      what = "remove dir " + d;
    } else if (op == 4 && !l.files.empty()) {
      auto f = pick(below(3) || l.links.empty() ? l.files : l.links);
      fs::remove(full(f));
      put_dir(f);
      if (below(2)) put_file(fresh(f), random_size());
      what = "file or symlink to dir " + f;
    } else if (op == 5 && !subdirs.empty()) {
      auto d = pick(subdirs);
      fs::remove_all(full(d));
      if (below(3) || l.files.empty()) {
        put_file(d, random_size());
      } else {
        put_symlink(d, pick(l.files));
      }
      what = "dir to file or symlink " + d;
    } else if (op == 6 && !l.files.empty()) {
      auto f = pick(l.files);
      fs::remove(full(f));
      put_symlink(f, pick(below(2) && !l.files.empty() ? l.files : l.dirs));
      what = "file to symlink " + f + " -> " + fs::read_symlink(full(f)).string();
    } else if (op == 7 && !l.files.empty()) {
      auto p = pick(below(3) || subdirs.empty() ? l.files : subdirs);
      struct stat st {};
      ::lstat(full(p).c_str(), &st);
      mode_t m = S_ISDIR(st.st_mode) ? ((st.st_mode & 0777) == 0755 ? 0700 : 0755)
                                     : ((st.st_mode & 0111) ? 0644 : 0755);
      ::chmod(full(p).c_str(), m);
      what = "chmod " + p + " " + std::to_string(m);
    } else if (op == 8 && !l.files.empty()) {
      auto f = pick(l.files);
      auto n = fresh(pick(l.dirs));
      ::link(full(f).c_str(), full(n).c_str());
      what = "hard link " + n + " to " + f;
    } else if (op == 9 && !l.linked.empty()) {
      auto f = pick(l.linked);
      fs::remove(full(f));
      what = "unlink " + f;
    } else if (op == 10) {
      auto p = pick(below(2) && !l.files.empty() ? l.files : l.dirs);
      times[p] = {clock += 7, static_cast<long>(below(1000000000))};
      timespec both[2] = {times[p], times[p]};
      ::utimensat(AT_FDCWD, full(p).c_str(), both, AT_SYMLINK_NOFOLLOW);
      what = "touch " + p;
    } else if (op == 11) {
      auto n = fresh(pick(l.dirs));
      put_symlink(n, pick(below(2) && !l.files.empty() ? l.files : l.dirs));
      what = "symlink " + n;
    } else if (op == 12) {
      auto n = fresh(pick(l.dirs));
      put_dir(n);
      what = "mkdir " + n;
    } else {
      auto n = fresh(pick(l.dirs));
      put_file(n, random_size());
      what = "add " + n;
    }
    if (list().files.empty()) {  // a tree without a regular file is not saved
      auto n = fresh("");
      put_file(n, 1 + below(100));
      what += ", add " + n;
    }
    log.back() += what + "; ";
  }

  // Gives every path whose mtime the file system just changed a definite one: its previous
  // mtime half the time (as builds keep theirs), else a new one.
  void settle() {
    auto l = list();
    for (auto* v : {&l.dirs, &l.files}) {
      for (const auto& p : *v) {
        struct stat st {};
        ::lstat(full(p).c_str(), &st);
        auto it = times.find(p);
        if (it != times.end() && it->second.tv_sec == st.st_mtim.tv_sec &&
            it->second.tv_nsec == st.st_mtim.tv_nsec)
          continue;
        if (it == times.end() || below(2)) {
          times[p] = {clock += 7, static_cast<long>(below(1000000000))};
        }
        timespec both[2] = {times[p], times[p]};
        ::utimensat(AT_FDCWD, full(p).c_str(), both, AT_SYMLINK_NOFOLLOW);
      }
    }
  }

  // Saves the tree as entry kn, on k(n-1); returns the number of delta layers kn holds.
  size_t save(int n) {
    SaveOptions o;
    o.key = "k" + std::to_string(n);
    if (n > 1) o.base_key = "k" + std::to_string(n - 1);
    o.paths = {cache};
    o.anchors = src;
    o.packs = packs_around(64 << 10);
    auto r = save_entry(store, o);
    failed |= !r.ok();
    EXPECT_TRUE(r.ok()) << context(n) << (r.ok() ? "" : r.error().message);
    auto m = store.get_manifest(tag_for_key(o.key));
    if (!m.ok() || !m.value()) return 0;
    auto info = parse_manifest(m.value()->bytes);
    if (!info.ok()) return 0;
    return std::count_if(info->layers.begin(), info->layers.end(), is_delta_layer);
  }

  // Restores entry kn into a fresh workspace and expects the tree it was saved from.
  void expect_restores(int n, int round) {
    TempDir dst;
    RestoreOptions o;
    o.key = "k" + std::to_string(n);
    o.anchors = {dst / "ws", dst / "home"};
    auto r = restore_entry(store, o);
    failed |= !r.ok();
    ASSERT_TRUE(r.ok()) << context(round) << "restoring k" << n << ": " << r.error().message;
    auto diff = delta_random_diff(saved[n - 1], delta_random_snapshot(dst / "ws/cache"));
    failed |= !diff.empty();
    EXPECT_EQ(diff, "") << context(round) << "restoring k" << n << ", differing paths:\n" << diff;
  }

  std::string context(int round) const {
    std::string s = "seed " + std::to_string(seed) + ", round " + std::to_string(round) + ": ";
    s += "(REGCACHE_DELTA_SEED=" + std::to_string(seed) + " replays it)\nmutations:\n";
    for (size_t i = 0; i < log.size() && i < static_cast<size_t>(round); ++i)
      s += "  k" + std::to_string(i + 1) + ": " + log[i] + "\n";
    return s;
  }
};

TEST(DeltaRandom, StackedDeltasRestoreExactly) {
  // 32: a file named with 252 bytes removed, so the delta holds a 256-byte whiteout name.
  std::vector<uint64_t> seeds = {11, 22, 32, 37, 44, 59, 72};
  if (const char* env = std::getenv("REGCACHE_DELTA_SEED"))
    seeds = {std::strtoull(env, nullptr, 10)};
  constexpr int kRounds = 12;
  size_t with_deltas = 0, compacted = 0, deepest = 0;
  for (uint64_t seed : seeds) {
    DeltaRandomRun run(seed);
    run.log.push_back("initial tree; ");
    run.build(seed % 2 == 0);
    run.saved.push_back(delta_random_snapshot(run.cache));
    size_t deltas = run.save(1);
    for (int n = 2; n <= kRounds + 1 && !run.failed; ++n) {
      run.log.emplace_back();
      for (int i = 0, count = 1 + run.below(5); i < count; ++i) run.mutate();
      run.settle();
      run.saved.push_back(delta_random_snapshot(run.cache));
      size_t now = run.save(n);
      with_deltas += now > 0;
      compacted += deltas > 0 && now == 0;
      deepest = std::max(deepest, now);
      deltas = now;
      run.log.back() += "(" + std::to_string(now) + " deltas)";
      run.expect_restores(n, n);
      if (n % 4 == 0) run.expect_restores(1 + run.below(n - 1), n);
    }
  }
  // The run must have stacked deltas several deep and compacted them.
  if (seeds.size() > 1) {
    EXPECT_GT(with_deltas, 10u);
    EXPECT_GT(compacted, 2u);
    EXPECT_GE(deepest, 3u);
  }
  std::printf("deltas in %zu entries, %zu compactions, deepest stack %zu\n", with_deltas, compacted,
              deepest);
}

}  // namespace
}  // namespace regcache
