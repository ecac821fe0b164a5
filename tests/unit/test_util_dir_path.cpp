// Paths longer than PATH_MAX (a tree 500 levels deep): open_path opens them as ::open
// would, open_dir_below opens them in pieces and still refuses a symlink on the way (also
// where openat2 is missing: a seccomp filter makes it ENOSYS), and an error shows such a
// path by its two ends.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "regcache/util/dir_path.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/fs.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::TempDir;

constexpr int kDeepLevels = 500;
const char* const kLevelName = "level-0000";  // 11 bytes a level with its '/'

// The path of `levels` nested directories below a root.
std::string levels_path(int levels) {
  std::string rel;
  for (int i = 0; i < levels; ++i) rel += (rel.empty() ? "" : "/") + std::string(kLevelName);
  return rel;
}

// kDeepLevels nested directories, a file "leaf" at the bottom; removed through descriptors
// (std::filesystem cannot: the paths are too long for it).
struct DeepTree {
  TempDir tmp;
  std::string rel = levels_path(kDeepLevels);
  DeepTree() {
    UniqueFd fd(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    for (int i = 0; i < kDeepLevels; ++i) {
      EXPECT_EQ(::mkdirat(fd.get(), kLevelName, 0755), 0);
      fd = UniqueFd(::openat(fd.get(), kLevelName, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
    UniqueFd leaf(::openat(fd.get(), "leaf", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    EXPECT_EQ(::write(leaf.get(), "bottom", 6), 6);
  }
  ~DeepTree() {
    UniqueFd fd(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    EXPECT_TRUE(remove_tree_at(fd.get(), kLevelName, "the deep tree").ok());
  }
  UniqueFd root() const {
    return UniqueFd(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
};

TEST(OpenPath, OpensAFileBelowAPathLongerThanPathMax) {
  DeepTree t;
  const std::string full = t.tmp.path() + "/" + t.rel + "/leaf";
  ASSERT_GT(full.size(), size_t{PATH_MAX});
  errno = 0;
  EXPECT_LT(::open(full.c_str(), O_RDONLY | O_CLOEXEC), 0);
  EXPECT_EQ(errno, ENAMETOOLONG);  // what the save met before
  UniqueFd fd(open_path(full, O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd) << std::strerror(errno);
  char buf[16] = {};
  EXPECT_EQ(::read(fd.get(), buf, sizeof buf), 6);
  EXPECT_EQ(std::string(buf), "bottom");
  errno = 0;
  EXPECT_LT(open_path(full + "-not-there", O_RDONLY | O_CLOEXEC), 0);
  EXPECT_EQ(errno, ENOENT);
  UniqueFd shallow(open_path(t.tmp.path() + "/" + kLevelName, O_RDONLY | O_DIRECTORY));
  EXPECT_TRUE(shallow);
  // Doubled slashes, shifted one byte at a time so that a piece ends on each of a pair's
  // slashes: never resolved from the root.
  std::string doubled;
  for (int i = 0; i < kDeepLevels; ++i) doubled += std::string("//") + kLevelName;
  for (size_t shift = 0; shift < 12; ++shift) {
    const std::string p = t.tmp.path() + std::string(shift + 1, '/') + doubled.substr(2) + "//leaf";
    UniqueFd leaf(open_path(p, O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(leaf) << "shifted by " << shift << ": " << std::strerror(errno);
  }
}

// A directory at `level` (counted from 1) replaced by a symlink to where it went.
void swap_for_symlink(const DeepTree& t, int level) {
  UniqueFd base = t.root();
  auto parent = open_dir_below(base.get(), levels_path(level - 1));
  ASSERT_TRUE(parent.ok()) << parent.error().message;
  ASSERT_EQ(::renameat(parent->get(), kLevelName, parent->get(), "moved"), 0);
  ASSERT_EQ(::symlinkat("moved", parent->get(), kLevelName), 0);
}

void swap_back(const DeepTree& t, int level) {
  UniqueFd base = t.root();
  auto parent = open_dir_below(base.get(), levels_path(level - 1));
  ASSERT_TRUE(parent.ok()) << parent.error().message;
  ASSERT_EQ(::unlinkat(parent->get(), kLevelName, 0), 0);
  ASSERT_EQ(::renameat(parent->get(), "moved", parent->get(), kLevelName), 0);
}

TEST(OpenDirBelow, OpensADeepDirectoryAndRefusesASymlinkOnTheWay) {
  DeepTree t;
  ASSERT_GT(t.rel.size(), size_t{PATH_MAX});
  UniqueFd base = t.root();
  auto deep = open_dir_below(base.get(), t.rel);
  ASSERT_TRUE(deep.ok()) << deep.error().message;
  struct stat st {};
  EXPECT_EQ(::fstatat(deep->get(), "leaf", &st, AT_SYMLINK_NOFOLLOW), 0);
  // A symlink in the first piece of the path, and one past PATH_MAX bytes into it.
  for (int level : {2, 450}) {
    swap_for_symlink(t, level);
    auto refused = open_dir_below(base.get(), t.rel);
    ASSERT_FALSE(refused.ok()) << "level " << level;
    EXPECT_EQ(refused.error().kind, ErrorKind::hostile) << refused.error().message;
    swap_back(t, level);
  }
  auto parent_ref = open_dir_below(base.get(), t.rel + "/..");
  ASSERT_FALSE(parent_ref.ok());
  EXPECT_EQ(parent_ref.error().kind, ErrorKind::hostile);
  auto missing = open_dir_below(base.get(), t.rel + "/not-there");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
}

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#endif

// Makes openat2 fail with ENOSYS in this process, as on a kernel before 5.6 or under a
// container runtime's filter that does not know the call. Returns whether it does now.
bool without_openat2() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
    return false;
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  return ::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how) < 0 && errno == ENOSYS;
}

// Checks open_dir_below on a deep tree of its own (made and removed here: the death test's
// child runs this alone); the exit code says which check failed.
int open_dir_below_without_openat2() {
  if (!without_openat2()) return 2;
  int code = 0;
  {
    DeepTree t;
    UniqueFd base = t.root();
    auto deep = open_dir_below(base.get(), t.rel);
    struct stat st {};
    if (!deep.ok() || ::fstatat(deep->get(), "leaf", &st, AT_SYMLINK_NOFOLLOW) != 0) code = 3;
    swap_for_symlink(t, 450);
    auto refused = open_dir_below(base.get(), t.rel);
    if (refused.ok() || refused.error().kind != ErrorKind::hostile) code = 4;
    swap_back(t, 450);
  }
  return code;
}

TEST(OpenDirBelow, GoesAComponentAtATimeWhereOpenat2IsMissing) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // the child runs this test alone
  EXPECT_EXIT(std::exit(open_dir_below_without_openat2()), ::testing::ExitedWithCode(0), "");
}

TEST(ErrnoMessage, ALongPathIsShownByItsEnds) {
  const std::string path = "/start/" + std::string(5000, 'a') + "/the-end";
  const std::string msg = errno_message("cannot open", path, ENAMETOOLONG);
  EXPECT_LT(msg.size(), 500u);
  EXPECT_EQ(msg.rfind("cannot open /start/", 0), 0u) << msg;
  EXPECT_NE(msg.find("/.../"), std::string::npos);
  EXPECT_NE(msg.find("/the-end: File name too long"), std::string::npos) << msg;
  EXPECT_EQ(errno_message("cannot open", "/short", ENOENT),
            "cannot open /short: No such file or directory");
}

}  // namespace
}  // namespace regcache
