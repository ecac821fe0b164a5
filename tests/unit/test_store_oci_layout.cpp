#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "regcache/store/fetch_verified.hpp"
#include "regcache/store/oci_layout/layout_store.hpp"
#include "regcache/util/sha256.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::TempDir;

TEST(LayoutStore, CreatesAValidLayout) {
  TempDir d;
  ASSERT_TRUE(open_layout_store(d / "store").ok());
  auto layout = nlohmann::json::parse(regcache::testing::slurp(d / "store/oci-layout"));
  EXPECT_EQ(layout["imageLayoutVersion"], "1.0.0");
  auto index = nlohmann::json::parse(regcache::testing::slurp(d / "store/index.json"));
  EXPECT_EQ(index["schemaVersion"], 2);
  EXPECT_TRUE(index["manifests"].empty());
}

TEST(LayoutStore, ManifestTagsReplaceAndDelete) {
  TempDir d;
  auto store = open_layout_store(d / "s").value();
  std::string m1 =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","n":1})";
  std::string m2 =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","n":2})";
  auto d1 = store->put_manifest("t", m1, "application/vnd.oci.image.manifest.v1+json");
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(d1.value(), sha256_digest(m1));
  ASSERT_TRUE(store->put_manifest("t", m2, "application/vnd.oci.image.manifest.v1+json").ok());
  auto got = store->get_manifest("t").value();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->bytes, m2);
  EXPECT_EQ(store->list_tags().value(), std::vector<std::string>{"t"});
  ASSERT_TRUE(store->delete_manifest(sha256_digest(m2)).ok());
  EXPECT_FALSE(store->get_manifest("t").value());
  EXPECT_FALSE(store->delete_manifest(sha256_digest(m2)).ok());
}

TEST(LayoutStore, ConcurrentWritersKeepEveryTag) {
  TempDir d;
  ASSERT_TRUE(open_layout_store(d / "s").ok());
  constexpr int kWriters = 8, kEach = 10;
  std::vector<pid_t> pids;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = ::fork();
    if (pid == 0) {
      auto store = open_layout_store(d / "s").value();
      for (int i = 0; i < kEach; ++i) {
        std::string m = R"({"schemaVersion":2,"w":)" + std::to_string(w * 100 + i) + "}";
        if (!store->put_manifest("w" + std::to_string(w) + "-" + std::to_string(i), m, "x").ok())
          _exit(1);
      }
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t p : pids) {
    int status = 0;
    ::waitpid(p, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto store = open_layout_store(d / "s").value();
  EXPECT_EQ(store->list_tags().value().size(), static_cast<size_t>(kWriters * kEach));
}

// Found by fuzz/fuzz_layout_index.cpp: entries of another shape in index.json threw JSON
// exceptions (a non-object entry, non-object annotations, a non-string ref name), and a
// digest that is not one (too short, or "sha256:../..") became a path outside blobs/.
TEST(LayoutStore, MalformedIndexEntriesAreErrors) {
  TempDir d;
  auto store = open_layout_store(d / "s").value();
  std::string ok_digest = sha256_digest("x");
  const std::string ref_name = R"("org.opencontainers.image.ref.name")";
  auto write_index = [&](const std::string& entry) {
    regcache::testing::write_file(d / "s/index.json",
                                  R"({"schemaVersion":2,"manifests":[)" + entry + "]}");
  };
  for (const std::string& entry : std::vector<std::string>{
           "1",
           R"({"annotations":{}})",
           R"({"digest":")" + ok_digest + R"(","annotations":"t"})",
           R"({"digest":")" + ok_digest + R"(","annotations":{)" + ref_name + ":5}}",
       }) {
    write_index(entry);
    auto tags = store->list_tags();
    ASSERT_FALSE(tags.ok()) << entry;
    EXPECT_EQ(tags.error().kind, ErrorKind::integrity);
    EXPECT_FALSE(store->get_manifest("t").ok()) << entry;
    EXPECT_FALSE(store->delete_manifest(ok_digest).ok()) << entry;
  }
  for (const std::string digest : {"x", "sha256:../../oci-layout", "sha512:../../oci-layout"}) {
    write_index(R"({"digest":")" + digest + R"(","annotations":{)" + ref_name + R"(:"t"}})");
    EXPECT_EQ(store->list_tags().value(), std::vector<std::string>{"t"});
    auto m = store->get_manifest("t");
    ASSERT_FALSE(m.ok()) << digest;
    EXPECT_EQ(m.error().kind, ErrorKind::integrity);
  }
}

namespace {

// Returns the blob a layout at root holds for digest (its bytes), or "<none>".
std::string blob_bytes(const std::string& root, const std::string& digest) {
  const std::string path = root + "/blobs/sha256/" + digest.substr(7);
  return ::access(path.c_str(), F_OK) == 0 ? regcache::testing::slurp(path) : "<none>";
}

}  // namespace

// A blob put from a file on the layout's file system is linked, replacing a short copy of it
// that a crash or a truncation left under its name (which has_blob does not take).
TEST(LayoutStore, PutBlobFromAFileReplacesAShortCopy) {
  TempDir d;
  auto store = open_layout_store(d / "s").value();
  const std::string data(300000, 'b');
  const Descriptor desc{"application/octet-stream", sha256_digest(data), data.size(), {}};
  regcache::testing::write_file(d / ("s/blobs/sha256/" + desc.digest.substr(7)),
                                data.substr(0, 10));
  ASSERT_FALSE(store->has_blob(desc).value());
  regcache::testing::write_file(d / "staged", data);
  ASSERT_TRUE(store->put_blob(desc, {d / "staged", ""}).ok());
  EXPECT_EQ(blob_bytes(d / "s", desc.digest), data);
  EXPECT_TRUE(store->has_blob(desc).value());
  for (const auto& e : std::filesystem::directory_iterator(d / "s/blobs/sha256"))
    EXPECT_EQ(e.path().filename().string(), desc.digest.substr(7)) << "a temporary was left";
}

// From a file on another file system (a TMPDIR elsewhere than a local tier) it is copied,
// replacing a short copy all the same.
TEST(LayoutStore, PutBlobCopiesAFileFromAnotherFileSystem) {
  TempDir d;
  struct stat here {
  }, shm{};
  if (::stat("/dev/shm", &shm) != 0 || ::stat(d.path().c_str(), &here) != 0 ||
      shm.st_dev == here.st_dev)
    GTEST_SKIP() << "/dev/shm is not another file system here";
  TempDir elsewhere("/dev/shm");
  auto store = open_layout_store(d / "s").value();
  const std::string data(300000, 'c');
  const Descriptor desc{"application/octet-stream", sha256_digest(data), data.size(), {}};
  regcache::testing::write_file(d / ("s/blobs/sha256/" + desc.digest.substr(7)), "short");
  regcache::testing::write_file(elsewhere / "staged", data);
  ASSERT_TRUE(store->put_blob(desc, {elsewhere / "staged", ""}).ok());
  EXPECT_EQ(blob_bytes(d / "s", desc.digest), data);
  for (const auto& e : std::filesystem::directory_iterator(d / "s/blobs/sha256"))
    EXPECT_EQ(e.path().filename().string(), desc.digest.substr(7)) << "a temporary was left";
}

// A copy that a read found damaged (other bytes of the same size, which has_blob takes) is
// removed, so that the next put writes the blob again; a good copy is never removed, nor
// one that does not match the descriptor only by its claimed size.
TEST(LayoutStore, ADamagedCopyIsDroppedAndPutAgain) {
  TempDir d;
  auto store = open_layout_store(d / "s").value();
  const std::string data(300000, 'd');
  const Descriptor desc{"application/octet-stream", sha256_digest(data), data.size(), {}};
  ASSERT_TRUE(store->put_blob(desc, {"", data}).ok());
  const std::string path = d / ("s/blobs/sha256/" + desc.digest.substr(7));

  Descriptor claimed = desc;  // a manifest claiming another size of a good copy
  claimed.size = 7;
  StringSink ignored;
  EXPECT_EQ(fetch_verified(*store, claimed, &ignored).error().kind, ErrorKind::integrity);
  EXPECT_FALSE(store->drop_damaged(desc));  // read again, it matches: kept
  EXPECT_EQ(blob_bytes(d / "s", desc.digest), data);

  std::string damaged = data;
  damaged[150000] = 'x';
  regcache::testing::write_file(path, damaged);
  ASSERT_TRUE(store->has_blob(desc).value());  // the size matches: a put would take it
  StringSink out;
  auto st = fetch_verified(*store, desc, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::integrity);
  EXPECT_NE(st.error().message.find("the damaged copy is removed from oci:"), std::string::npos)
      << st.error().message;
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(store->has_blob(desc).value());
  ASSERT_TRUE(store->put_blob(desc, {"", data}).ok());
  StringSink again;
  ASSERT_TRUE(fetch_verified(*store, desc, &again).ok());
  EXPECT_EQ(again.str(), data);
  for (const auto& e : std::filesystem::directory_iterator(d / "s/blobs/sha256"))
    EXPECT_EQ(e.path().filename().string(), desc.digest.substr(7)) << "a temporary was left";
}
