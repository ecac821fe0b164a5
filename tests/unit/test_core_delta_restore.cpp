// Restoring entries whose top layers are deltas (OCI whiteouts inside): the tree an OCI
// runtime would unpack, every file written once, and the hostile stacks refused before
// anything is placed. The entries are built by hand here, layer by layer.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "counting_store.hpp"
#include "raw_tar.hpp"
#include "regcache/archive/compression.hpp"
#include "regcache/core/restore.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/store/memory/memory_store.hpp"
#include "regcache/util/sha256.hpp"
#include "regcache/util/sink.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::RawTar;
using testing::slurp;
using testing::TempDir;
using testing::write_file;

enum class Role { pack, delta };

// Pushes a tar as a zstd layer; returns it described as a save would describe it.
LayerInfo push_layer(Store& store, const RawTar& tar, Role role) {
  std::string raw = tar.bytes();
  StringSink out(1 << 30);
  auto zstd = make_compressor(Compression::zstd, 3, &out);
  EXPECT_TRUE(zstd->write(raw.data(), raw.size()).ok());
  EXPECT_TRUE(zstd->finish().ok());
  LayerInfo l;
  l.diff_id = sha256_digest(raw);
  l.descriptor = {std::string(layer_media_type(Compression::zstd)),
                  sha256_digest(out.str()),
                  out.str().size(),
                  {}};
  l.descriptor.annotations[kAnnoPackSize] = std::to_string(raw.size());
  if (role == Role::delta) l.descriptor.annotations[kAnnoDelta] = "true";
  EXPECT_TRUE(store.put_blob(l.descriptor, {"", out.str()}).ok());
  return l;
}

// Stores an entry of root ws/cache made of these layers, bottom first, under key.
void push_entry(Store& store, const std::string& key, const std::vector<LayerInfo>& layers) {
  EntryInfo info;
  info.key = key;
  info.roots = {"ws/cache"};
  info.size = 1 << 20;
  std::string config = build_config(layers);
  info.config = {kOciConfig, sha256_digest(config), config.size(), {}};
  ASSERT_TRUE(store.put_blob(info.config, {"", config}).ok());
  for (const auto& l : layers) info.layers.push_back(l.descriptor);
  ASSERT_TRUE(store.put_manifest(tag_for_key(key), build_manifest(info), kOciManifest).ok());
}

// The regular files and symlinks below dir (relative path -> content or "-> target").
std::map<std::string, std::string> tree_with_links(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    auto rel = e.path().lexically_relative(dir).string();  // relative() follows links
    if (e.is_symlink()) {
      out[rel] = "-> " + std::filesystem::read_symlink(e.path()).string();
    } else if (e.is_regular_file()) {
      out[rel] = slurp(e.path().string());
    }
  }
  return out;
}

struct DeltaFixture {
  TempDir tmp;
  Anchors dst{tmp / "ws", tmp / "home"};
  std::unique_ptr<Store> store = make_memory_store("memory", tmp.path());
  // Two packs: what a save of the tree before the change made.
  std::vector<LayerInfo> base = {push_layer(*store,
                                            RawTar()
                                                .add("ws/cache/", '5')
                                                .add("ws/cache/a.txt", '0', "alpha")
                                                .add("ws/cache/gone.txt", '0', "to be removed")
                                                .add("ws/cache/sub/", '5')
                                                .add("ws/cache/sub/b.txt", '0', "b before")
                                                .add("ws/cache/sub/same.txt", '0', "unchanged"),
                                            Role::pack),
                                 push_layer(*store,
                                            RawTar()
                                                .add("ws/cache/becomes_dir", '0', "a file first")
                                                .add("ws/cache/becomes_file/", '5')
                                                .add("ws/cache/becomes_file/inner", '0', "inner")
                                                .add("ws/cache/opq/", '5')
                                                .add("ws/cache/opq/x", '0', "x")
                                                .add("ws/cache/opq/y", '0', "y")
                                                .add("ws/cache/link", '2', "", "a.txt"),
                                            Role::pack)};

  Result<RestoreReport> restore(const std::string& key) {
    RestoreOptions o;
    o.key = key;
    o.anchors = dst;
    o.jobs = 2;
    return restore_entry(*store, o);
  }

  // Restores key, which must be refused as hostile (or, with `integrity`, as malformed),
  // with `words` in the message and the destination left as it was.
  void expect_refused(const std::string& key, const std::string& words,
                      ErrorKind kind = ErrorKind::hostile) {
    write_file(dst.workspace + "/cache/mine.txt", "mine");
    auto before = tree_with_links(dst.workspace);
    auto r = restore(key);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, kind) << r.error().message;
    EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
    EXPECT_EQ(tree_with_links(dst.workspace), before);
    EXPECT_EQ(std::filesystem::directory_iterator(dst.workspace)->path().filename(), "cache");
  }
};

// Two deltas on two packs: changed, added, removed and re-added files, an opaque
// directory, a file that becomes a directory and back, a symlink replaced, and the upper
// layer's directory metadata. The tree is what the stack means, and no file is written
// twice (the report counts the files written).
TEST(DeltaRestore, TheTreeIsWhatTheStackMeansAndNoFileIsWrittenTwice) {
  DeltaFixture f;
  auto delta1 = push_layer(*f.store,
                           RawTar()
                               .add("ws/cache/.wh.gone.txt", '0')
                               .add("ws/cache/sub/", '5', "", "", 0700)
                               .add("ws/cache/sub/b.txt", '0', "b after")
                               .add("ws/cache/new.txt", '0', "new")
                               .add("ws/cache/becomes_dir/", '5')
                               .add("ws/cache/becomes_dir/in", '0', "in")
                               .add("ws/cache/becomes_file", '0', "a file now")
                               .add("ws/cache/opq/.wh..wh..opq", '0')
                               .add("ws/cache/opq/z", '0', "z")
                               .add("ws/cache/link", '2', "", "sub/same.txt"),
                           Role::delta);
  auto delta2 = push_layer(*f.store,
                           RawTar()
                               .add("ws/cache/new.txt", '0', "newer")
                               .add("ws/cache/.wh.a.txt", '0')
                               .add("ws/cache/gone.txt", '0', "back again"),
                           Role::delta);
  auto layers = f.base;
  layers.push_back(delta1);
  layers.push_back(delta2);
  push_entry(*f.store, "k", layers);
  auto r = f.restore("k");
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::map<std::string, std::string> want = {
      {"cache/sub/b.txt", "b after"},       {"cache/sub/same.txt", "unchanged"},
      {"cache/new.txt", "newer"},           {"cache/becomes_dir/in", "in"},
      {"cache/becomes_file", "a file now"}, {"cache/opq/z", "z"},
      {"cache/gone.txt", "back again"},     {"cache/link", "-> sub/same.txt"}};
  EXPECT_EQ(tree_with_links(f.dst.workspace), want);
  // sub/same.txt, sub/b.txt, becomes_dir/in, becomes_file, opq/z, new.txt, gone.txt.
  EXPECT_EQ(r->files, 7u);
  struct stat st {};
  ASSERT_EQ(::stat((f.dst.workspace + "/cache/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);  // the delta's directory, not the pack's 0644
}

// A ".wh." name in a pack layer is an ordinary file, as entries saved before deltas hold.
// Delta layers are read twice (their headers first, then to extract them) but downloaded
// once: the bytes of the first download are kept for the second read.
TEST(DeltaRestore, EachLayerIsDownloadedOnce) {
  TempDir tmp;
  Anchors dst{tmp / "ws", tmp / "home"};
  testing::CountingStore store;
  std::vector<LayerInfo> layers = {
      push_layer(store,
                 RawTar()
                     .add("ws/cache/", '5')
                     .add("ws/cache/a.txt", '0', "alpha")
                     .add("ws/cache/b.txt", '0', "beta"),
                 Role::pack),
      push_layer(store, RawTar().add("ws/cache/a.txt", '0', "alpha 2"), Role::delta),
      push_layer(store, RawTar().add("ws/cache/.wh.b.txt", '0').add("ws/cache/c.txt", '0', "gamma"),
                 Role::delta)};
  push_entry(store, "k", layers);
  store.blob_gets = 0;
  RestoreOptions o;
  o.key = "k";
  o.anchors = dst;
  o.jobs = 2;
  auto r = restore_entry(store, o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(
      tree_with_links(dst.workspace),
      (std::map<std::string, std::string>{{"cache/a.txt", "alpha 2"}, {"cache/c.txt", "gamma"}}));
  EXPECT_EQ(store.blob_gets, 4) << "the config and each of the three layers once";
}

TEST(DeltaRestore, AWhiteoutNameInAPackIsAFile) {
  DeltaFixture f;
  push_entry(*f.store, "k",
             {push_layer(*f.store, RawTar().add("ws/cache/.wh.x", '0', "a file"), Role::pack)});
  ASSERT_TRUE(f.restore("k").ok());
  EXPECT_EQ(slurp(f.dst.workspace + "/cache/.wh.x"), "a file");
}

TEST(DeltaRestore, AWhiteoutOfTheRootOrOutsideItIsRefused) {
  for (const char* name : {"ws/.wh.cache", "ws/other/.wh.x", "ws/cache/../.wh.cache"}) {
    DeltaFixture f;
    auto layers = f.base;
    layers.push_back(push_layer(*f.store, RawTar().add(name, '0'), Role::delta));
    push_entry(*f.store, "k", layers);
    f.expect_refused("k", std::string(name).find("..") == std::string::npos
                              ? "whiteout outside the cache roots"
                              : "unsafe path");
  }
}

TEST(DeltaRestore, AWhiteoutWithContentIsRefused) {
  DeltaFixture f;
  auto layers = f.base;
  layers.push_back(push_layer(*f.store, RawTar().add("ws/cache/.wh.a.txt", '0', "x"), Role::delta));
  push_entry(*f.store, "k", layers);
  f.expect_refused("k", "whiteout that is not an empty file");
}

// A delta's hard link must name a file of the delta itself: with layers extracted in
// parallel, a link into a lower layer would depend on which layer got there first.
TEST(DeltaRestore, AHardLinkFromADeltaIntoAPackIsRefused) {
  DeltaFixture f;
  auto layers = f.base;
  layers.push_back(
      push_layer(*f.store, RawTar().add("ws/cache/l", '1', "", "ws/cache/a.txt"), Role::delta));
  push_entry(*f.store, "k", layers);
  f.expect_refused("k", "hard link target not in this layer");
}

// Stores under "k" the packs, one more pack holding ws/cache/t and a hard link to it at
// `link`, and a delta replacing ws/cache/t.
void push_replaced_link_entry(DeltaFixture& f, const std::string& link) {
  auto layers = f.base;
  layers.push_back(push_layer(
      *f.store, RawTar().add("ws/cache/t", '0', "t").add(link, '1', "", "ws/cache/t"), Role::pack));
  layers.push_back(push_layer(*f.store, RawTar().add("ws/cache/t", '0', "t2"), Role::delta));
  push_entry(*f.store, "k", layers);
}

TEST(DeltaRestore, AHardLinkToAFileADeltaReplacesIsRefused) {
  DeltaFixture f;
  push_replaced_link_entry(f, "ws/cache/l");
  f.expect_refused("k", "hard link to a file a layer above replaces");
}

// Restoring only a part of the root: the lower layer's link to a replaced file lies in the
// part, its target outside it. The link is refused all the same.
TEST(DeltaRestore, AHardLinkToAReplacedFileIsRefusedInAPartialRestoreToo) {
  DeltaFixture f;
  push_replaced_link_entry(f, "ws/cache/sub/l");
  RestoreOptions o;
  o.key = "k";
  o.anchors = f.dst;
  o.paths = {f.dst.workspace + "/cache/sub"};
  auto r = restore_entry(*f.store, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("hard link to a file a layer above replaces"), std::string::npos)
      << r.error().message;
}

// A partial restore takes a skipped hard link's content from its target in a second pass:
// a target that is a directory would be copied whole there (once for each nested one), and
// one no layer holds would leave the link missing; both are refused, as a full restore's
// linkat refuses them.
TEST(DeltaRestore, APartialRestoreRefusesHardLinksToADirectoryOrToNothing) {
  for (const auto& [target, words] :
       {std::pair<std::string, std::string>{"ws/cache/big", "target is not a regular file"},
        {"ws/cache/nowhere", "hard link target not in this layer"}}) {
    DeltaFixture f;
    auto layer = push_layer(*f.store,
                            RawTar()
                                .add("ws/cache/", '5')
                                .add("ws/cache/big/", '5')
                                .add("ws/cache/big/f", '0', std::string(4096, 'f'))
                                .add("ws/cache/sub/", '5')
                                .add("ws/cache/sub/l", '1', "", target),
                            Role::pack);
    push_entry(*f.store, "k", {layer});
    RestoreOptions o;
    o.key = "k";
    o.anchors = f.dst;
    o.paths = {f.dst.workspace + "/cache/sub"};
    auto r = restore_entry(*f.store, o);
    ASSERT_FALSE(r.ok()) << target;
    EXPECT_EQ(r.error().kind, ErrorKind::hostile) << r.error().message;
    EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
    EXPECT_FALSE(testing::exists_nofollow(f.dst.workspace + "/cache/sub/l")) << target;
  }
}

TEST(DeltaRestore, APackAboveADeltaIsRefused) {
  DeltaFixture f;
  std::vector<LayerInfo> layers = {
      f.base[0], push_layer(*f.store, RawTar().add("ws/cache/n", '0', "n"), Role::delta),
      f.base[1]};
  push_entry(*f.store, "k", layers);
  f.expect_refused("k", "a pack layer lies above a delta layer", ErrorKind::integrity);
}

TEST(DeltaRestore, MoreThanSixtyFourDeltasAreRefused) {
  DeltaFixture f;
  auto layers = f.base;
  auto delta = push_layer(*f.store, RawTar().add("ws/cache/n", '0', "n"), Role::delta);
  for (int i = 0; i < 65; ++i) layers.push_back(delta);
  push_entry(*f.store, "k", layers);
  f.expect_refused("k", "65 delta layers", ErrorKind::integrity);
}

// A delta layer whose bytes do not match its digest stops the restore before any layer is
// extracted.
TEST(DeltaRestore, ADamagedDeltaIsRefusedBeforeAnythingIsWritten) {
  DeltaFixture f;
  auto layers = f.base;
  auto delta = push_layer(*f.store, RawTar().add("ws/cache/n", '0', "n"), Role::delta);
  auto other = push_layer(*f.store, RawTar().add("ws/cache/m", '0', "m"), Role::delta);
  delta.descriptor.digest = other.descriptor.digest;  // sizes differ: caught either way
  delta.descriptor.size = other.descriptor.size + 1;
  layers.push_back(delta);
  push_entry(*f.store, "k", layers);
  f.expect_refused("k", "layer", ErrorKind::integrity);
}

}  // namespace
}  // namespace regcache
