// Random restores onto random existing trees merge as the documented rules say, or change nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "regcache/core/restore.hpp"
#include "regcache/core/save.hpp"
#include "regcache/store/memory/memory_store.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_file;

// A tree as this test sees it: a file, a symlink or a directory of named children.
struct PlaceRandomNode {
  enum class Kind { file, link, dir } kind = Kind::dir;
  std::string data;  // a file's content, a symlink's target
  mode_t mode = 0755;
  int64_t mtime_ns = 0;  // read from disk only (compared for refused restores)
  std::map<std::string, PlaceRandomNode> children;
};
using PlaceRandomKind = PlaceRandomNode::Kind;

// How the merge is made to run: the one swap, or file by file (from inside the destination,
// which the swap would leave this process in; or, as root, over a directory of another user's).
enum class PlaceRandomMode { swap, from_inside, foreign_owner };

const char* place_random_mode_name(PlaceRandomMode m) {
  return m == PlaceRandomMode::swap          ? "swap"
         : m == PlaceRandomMode::from_inside ? "from inside"
                                             : "foreign owner";
}

// Generates and mutates trees; names come from a small pool, so that the cache and the
// destination overlap.
struct PlaceRandomGen {
  std::mt19937 rng;
  std::string sentinel;  // a directory outside the workspace: no restore may write in it
  bool conflicts =
      false;  // may the destination hold a directory of files where the cache holds a file
  int serial = 0;

  int pick(int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); }
  std::string name() {
    static const char* names[] = {"a", "b", "c", "d", "e", "f"};
    return names[pick(6)];
  }
  PlaceRandomNode file(const std::string& tag) {
    PlaceRandomNode n;
    n.kind = PlaceRandomKind::file;
    n.data = tag + " " + std::to_string(serial++) + std::string(static_cast<size_t>(pick(40)), 'x');
    static const mode_t modes[] = {0644, 0755, 0600};
    n.mode = modes[pick(3)];
    return n;
  }
  PlaceRandomNode link(bool outside) {
    PlaceRandomNode n;
    n.kind = PlaceRandomKind::link;
    n.mode = 0;
    static const char* inside[] = {"a", "../b", "c/d", "nowhere"};
    if (outside && pick(2) == 0)
      n.data = pick(2) == 0 ? sentinel : sentinel + "/s";
    else
      n.data = inside[pick(4)];
    return n;
  }
  PlaceRandomNode dir(int depth, const std::string& tag, bool outside_links) {
    PlaceRandomNode n;
    n.mode = pick(4) == 0 ? 0700 : 0755;
    int count = depth >= 3 ? 0 : depth == 0 ? 3 + pick(5) : pick(5);
    for (int i = 0; i < count; ++i) {
      std::string nm = name();
      int k = pick(10);
      n.children[nm] = k < 4                ? file(tag)
                       : k < 6              ? link(outside_links)
                       : depth < 2 || k < 8 ? dir(depth + 1, tag, outside_links)
                                            : file(tag);
    }
    return n;
  }
  // A directory of files (never empty).
  PlaceRandomNode full_dir(int depth, const std::string& tag) {
    PlaceRandomNode n = dir(depth, tag, true);
    n.children["z"] = file(tag);
    return n;
  }
  // The destination made from the cached directory c: the same names with the same or
  // another type, some left out, some only in the destination.
  PlaceRandomNode mutate(const PlaceRandomNode& c, int depth) {
    PlaceRandomNode out;
    out.mode = pick(4) == 0 ? 0700 : 0755;
    for (const auto& [nm, cc] : c.children) {
      int r = pick(100);
      if (r < 15) continue;  // not in the destination
      if (r < 55) {          // the same type
        out.children[nm] = cc.kind == PlaceRandomKind::dir    ? mutate(cc, depth + 1)
                           : cc.kind == PlaceRandomKind::file ? (pick(3) == 0 ? cc : file("old"))
                                                              : link(true);
        continue;
      }
      // Another type: a file, a symlink, an empty directory or a directory of files.
      std::vector<int> kinds;
      if (cc.kind != PlaceRandomKind::file) kinds.push_back(0);
      if (cc.kind != PlaceRandomKind::link) kinds.push_back(1);
      if (cc.kind != PlaceRandomKind::dir || cc.children.empty()) kinds.push_back(2);
      if (cc.kind == PlaceRandomKind::dir || conflicts) kinds.push_back(3);
      int k = kinds[static_cast<size_t>(pick(static_cast<int>(kinds.size())))];
      out.children[nm] = k == 0   ? file("old")
                         : k == 1 ? link(true)
                         : k == 2 ? PlaceRandomNode{}
                                  : full_dir(depth + 1, "old");
    }
    for (int i = pick(3); i > 0; --i) {  // only in the destination
      std::string nm = name();
      if (out.children.count(nm)) continue;
      out.children[nm] = pick(3) == 0   ? file("old")
                         : pick(2) == 0 ? link(true)
                                        : dir(depth + 1, "old", true);
    }
    return out;
  }
};

// The documented merge of the cached directory c into the existing directory e (into out);
// false when the restore is refused (a cached file or symlink over a directory of files).
bool place_random_merge(const PlaceRandomNode& c, const PlaceRandomNode& e, PlaceRandomNode& out) {
  out = e;
  out.mode = c.mode;  // a merged directory takes the cached mode
  for (const auto& [nm, cc] : c.children) {
    auto it = e.children.find(nm);
    if (it == e.children.end()) {
      out.children[nm] = cc;
      continue;
    }
    const PlaceRandomNode& ec = it->second;
    if (cc.kind == PlaceRandomKind::dir && ec.kind == PlaceRandomKind::dir) {
      if (!place_random_merge(cc, ec, out.children[nm])) return false;
    } else if (cc.kind != PlaceRandomKind::dir && ec.kind == PlaceRandomKind::dir &&
               !ec.children.empty()) {
      return false;
    } else {
      out.children[nm] = cc;  // the cache wins
    }
  }
  return true;
}

// What the destination root should hold after the restore; nullopt when it is refused.
std::optional<PlaceRandomNode> place_random_expected(const PlaceRandomNode& cache,
                                                     const std::optional<PlaceRandomNode>& dest) {
  if (!dest) return cache;
  if (dest->kind != PlaceRandomKind::dir) return std::nullopt;  // a file at the root
  PlaceRandomNode out;
  if (!place_random_merge(cache, *dest, out)) return std::nullopt;
  return out;
}

void place_random_write(const std::string& path, const PlaceRandomNode& n) {
  switch (n.kind) {
    case PlaceRandomKind::file:
      write_file(path, n.data);
      ASSERT_EQ(::chmod(path.c_str(), n.mode), 0) << path;
      break;
    case PlaceRandomKind::link:
      ASSERT_EQ(::symlink(n.data.c_str(), path.c_str()), 0) << path;
      break;
    case PlaceRandomKind::dir:
      std::filesystem::create_directories(path);
      for (const auto& [nm, c] : n.children) place_random_write(path + "/" + nm, c);
      ASSERT_EQ(::chmod(path.c_str(), n.mode), 0) << path;
      break;
  }
}

// What is at path, never following a symlink; nullopt when nothing is.
std::optional<PlaceRandomNode> place_random_read(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  PlaceRandomNode n;
  n.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  n.mode = st.st_mode & 07777;
  if (S_ISLNK(st.st_mode)) {
    n.kind = PlaceRandomKind::link;
    n.mode = 0;
    n.data = std::filesystem::read_symlink(path).string();
  } else if (S_ISDIR(st.st_mode)) {
    for (const auto& e : std::filesystem::directory_iterator(path)) {
      std::string nm = e.path().filename().string();
      n.children[nm] = *place_random_read(path + "/" + nm);
    }
  } else {
    n.kind = PlaceRandomKind::file;
    n.data = S_ISREG(st.st_mode) ? slurp(path) : "<not a regular file>";
  }
  return n;
}

// One line per entry, for failure messages.
void place_random_dump(const PlaceRandomNode& n, const std::string& at, std::string& out) {
  static const char* kinds[] = {"file", "link", "dir"};
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(n.mode));
  out += "  " + (at.empty() ? std::string(".") : at) + " " + kinds[static_cast<int>(n.kind)] + " " +
         mode + (n.data.empty() ? "" : " '" + n.data + "'") + "\n";
  for (const auto& [nm, c] : n.children) place_random_dump(c, at.empty() ? nm : at + "/" + nm, out);
}

std::string place_random_show(const std::optional<PlaceRandomNode>& n) {
  if (!n) return "  (absent)\n";
  std::string out;
  place_random_dump(*n, "", out);
  return out;
}

// The differences between two trees (with times: for a destination that must not change).
void place_random_diff(const PlaceRandomNode& want, const PlaceRandomNode& got,
                       const std::string& at, bool times, std::vector<std::string>& out) {
  const std::string where = at.empty() ? "." : at;
  if (want.kind != got.kind) {
    out.push_back(where + ": type differs");
    return;
  }
  if (want.data != got.data)
    out.push_back(where + ": '" + want.data + "' became '" + got.data + "'");
  if (want.mode != got.mode) out.push_back(where + ": mode differs");
  if (times && want.mtime_ns != got.mtime_ns) out.push_back(where + ": mtime differs");
  for (const auto& [nm, c] : want.children) {
    auto it = got.children.find(nm);
    if (it == got.children.end())
      out.push_back(where + "/" + nm + ": missing");
    else
      place_random_diff(c, it->second, at.empty() ? nm : at + "/" + nm, times, out);
  }
  for (const auto& [nm, c] : got.children)
    if (!want.children.count(nm)) out.push_back(where + "/" + nm + ": unexpected");
}

std::string place_random_diff_text(const PlaceRandomNode& want, const PlaceRandomNode& got,
                                   bool times) {
  std::vector<std::string> lines;
  place_random_diff(want, got, "", times, lines);
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

// Every ".regcache-stage-" name below dir.
std::vector<std::string> place_random_stage_leftovers(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->path().filename().string().rfind(kStagePrefix, 0) == 0) out.push_back(it->path());
  return out;
}

ino_t place_random_inode(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// One root of an entry: what the cache holds, and what the destination holds already.
struct PlaceRandomRoot {
  std::string name;
  PlaceRandomNode cache;
  std::optional<PlaceRandomNode> dest;  // nullopt: nothing there yet
};

// Saves the roots' caches as one entry, builds their destinations, restores onto them in
// `mode`, and checks the result against the model: every root merged, or (a conflict in any
// root) none changed. Returns whether the model expected a refusal.
bool place_random_run(const std::string& label, PlaceRandomMode mode,
                      const std::vector<PlaceRandomRoot>& roots, const std::string& sentinel) {
  TempDir tmp;
  Anchors src{tmp / "ws", tmp / "home"};
  Anchors dst{tmp / "ws2", tmp / "home2"};
  std::filesystem::create_directories(dst.workspace);
  std::string context = label + " (" + place_random_mode_name(mode) + ")\n";
  std::vector<std::string> paths;
  std::vector<std::optional<PlaceRandomNode>> expected, before;
  std::vector<ino_t> inodes;
  std::string inside;  // the root the restore runs from, in from_inside
  bool refused = false;
  for (const auto& r : roots) {
    const std::string at = dst.workspace + "/" + r.name;
    place_random_write(src.workspace + "/" + r.name, r.cache);
    paths.push_back(src.workspace + "/" + r.name);
    if (r.dest) place_random_write(at, *r.dest);
    if (r.dest && r.dest->kind == PlaceRandomKind::dir) {
      if (mode == PlaceRandomMode::foreign_owner) {
        EXPECT_EQ(::lchown(at.c_str(), 4242, 4242), 0);
      }
      if (mode == PlaceRandomMode::from_inside && inside.empty()) inside = at;
    }
    expected.push_back(place_random_expected(r.cache, r.dest));
    refused = refused || !expected.back();
    before.push_back(place_random_read(at));
    inodes.push_back(place_random_inode(at));
    context += r.name + " cached:\n" + place_random_show(r.cache) + r.name + " existing:\n" +
               place_random_show(r.dest);
  }
  const auto sentinel_before = place_random_read(sentinel);

  auto store = make_memory_store("memory", tmp.path());
  SaveOptions so;
  so.key = "place-random";
  so.paths = paths;
  so.anchors = src;
  auto saved = save_entry(*store, so);
  EXPECT_TRUE(saved.ok()) << (saved.ok() ? "" : saved.error().message);

  RestoreOptions ro;
  ro.key = "place-random";
  ro.anchors = dst;
  ro.jobs = 2;
  auto cwd = std::filesystem::current_path();
  if (!inside.empty()) std::filesystem::current_path(inside);
  auto restored = restore_entry(*store, ro);
  std::filesystem::current_path(cwd);
  const bool hit = restored.ok() && restored.value().result == RestoreResult::hit;
  if (refused) {
    EXPECT_FALSE(hit) << "a restore the rules refuse went through\n" << context;
  } else {
    EXPECT_TRUE(hit) << (restored.ok() ? "not a hit" : restored.error().message) << "\n" << context;
  }

  for (size_t i = 0; i < roots.size(); ++i) {
    const std::string at = dst.workspace + "/" + roots[i].name;
    const auto after = place_random_read(at);
    EXPECT_EQ(after.has_value(), refused ? before[i].has_value() : true) << at << "\n" << context;
    if (!after) continue;
    if (refused) {
      if (before[i]) {
        EXPECT_EQ(place_random_diff_text(*before[i], *after, true), "")
            << "a refused restore changed " << roots[i].name << "\n"
            << context;
      }
      continue;
    }
    EXPECT_EQ(place_random_diff_text(*expected[i], *after, false), "")
        << roots[i].name << " differs from the model\n"
        << context << roots[i].name << " after:\n"
        << place_random_show(after);
    if (hit && roots[i].dest && roots[i].dest->kind == PlaceRandomKind::dir) {
      // The swap exchanges the root directory; the file-by-file merge keeps it.
      const bool by_file = mode == PlaceRandomMode::foreign_owner || at == inside;
      EXPECT_EQ(place_random_inode(at) == inodes[i], by_file)
          << roots[i].name << (by_file ? " was swapped" : " was merged file by file") << "\n"
          << context;
    }
  }
  const auto sentinel_after = place_random_read(sentinel);
  EXPECT_TRUE(sentinel_after.has_value());
  if (sentinel_before && sentinel_after) {
    EXPECT_EQ(place_random_diff_text(*sentinel_before, *sentinel_after, true), "")
        << "written outside the destination\n"
        << context;
  }
  EXPECT_EQ(place_random_stage_leftovers(tmp.path()), std::vector<std::string>{}) << context;
  EXPECT_EQ(place_random_stage_leftovers(std::filesystem::path(sentinel).parent_path()),
            std::vector<std::string>{})
      << context;
  return refused;
}

// The cached tree and an existing destination made from it (sometimes none, or a file).
PlaceRandomRoot place_random_root(PlaceRandomGen& gen, const std::string& name) {
  PlaceRandomRoot r{name, gen.dir(0, "cached", false), std::nullopt};
  r.cache.children["g"] = gen.file("cached");  // an entry holds a regular file at least
  int k = gen.pick(100);
  if (k < 6)
    r.dest = gen.file("old");  // refused: the cache holds a directory
  else if (k >= 10)
    r.dest = gen.mutate(r.cache, 0);
  return r;
}

TEST(PlaceRandom, MergesOntoExistingTreesAsDocumented) {
  std::vector<uint32_t> seeds = {1, 2, 3, 4, 5, 6, 7, 8};
  const char* env = std::getenv("REGCACHE_PLACE_SEED");
  if (env) seeds = {static_cast<uint32_t>(std::strtoul(env, nullptr, 10))};
  std::vector<PlaceRandomMode> modes = {PlaceRandomMode::swap, PlaceRandomMode::from_inside};
  if (::geteuid() == 0) modes.push_back(PlaceRandomMode::foreign_owner);  // may chown

  TempDir outside;  // the destinations' symlinks point into it
  const std::string sentinel = outside / "sentinel";
  write_file(sentinel + "/s", "sentinel");
  int refused = 0, merged = 0;
  for (uint32_t seed : seeds) {
    PlaceRandomGen gen{std::mt19937(seed)};
    gen.sentinel = sentinel;
    for (int round = 0; round < 4; ++round) {
      gen.conflicts = round >= 2;  // a directory of files where the cache holds a file
      std::vector<PlaceRandomRoot> roots = {place_random_root(gen, "cache")};
      if (round % 2 == 1) roots.push_back(place_random_root(gen, "other"));
      const std::string label =
          "REGCACHE_PLACE_SEED=" + std::to_string(seed) + " round " + std::to_string(round);
      for (PlaceRandomMode mode : modes) {
        (place_random_run(label, mode, roots, sentinel) ? refused : merged)++;
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
  if (!env) {
    EXPECT_GT(refused, 0) << "no seed exercised a refusal";
    EXPECT_GT(merged, 0) << "no seed exercised a merge";
  }
}

}  // namespace
}  // namespace regcache
