// Fuzz target for the local layout's index.json reading: any index.json gives values or
// errors from every Store call that reads it (never an exception or a crash, never a file
// outside blobs/), and when the index is accepted, the store still behaves: a manifest
// put under a tag is listed and read back by tag with the digest the index names, and is
// gone after its deletion.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "regcache/store/oci_layout/layout_store.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/sha256.hpp"

using namespace regcache;

namespace {

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "fuzz_layout_index: %s\n", why.c_str());
  std::abort();
}

// One layout for the whole run, removed at exit.
struct Layout {
  std::string root;
  Layout() {
    char tmpl[] = "/tmp/regcache-fuzz-layout.XXXXXX";
    if (!::mkdtemp(tmpl)) fail("mkdtemp");
    root = std::string(tmpl) + "/layout";
  }
  ~Layout() {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(root).parent_path(), ec);
  }
};

const char* kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
const char* kMediaType = "application/vnd.oci.image.manifest.v1+json";

bool has_tag(const std::vector<std::string>& tags, const std::string& tag) {
  for (const auto& t : tags) {
    if (t == tag) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Layout layout;
  auto opened = open_layout_store(layout.root);
  if (!opened.ok()) fail("cannot open the layout: " + opened.error().message);
  auto& store = **opened;
  std::string index(reinterpret_cast<const char*>(data), size);
  if (!write_file_atomic(layout.root + "/index.json", index).ok()) fail("cannot write index");

  // Reads of whatever the index names: any outcome but a crash or a foreign file.
  auto tags = store.list_tags();
  for (const std::string ref : {"latest", "v1", "fuzz-tag"}) {
    auto m = store.get_manifest(ref);
    if (m.ok() && *m && (*m)->bytes != kManifest)
      fail("get_manifest read a file that is not a stored manifest");
  }
  (void)store.delete_manifest(sha256_digest("no such manifest"));
  if (UsageRecords* usage = store.usage()) {
    (void)usage->read_uses();
    (void)usage->record_use(sha256_digest(kManifest), "2026-01-01T00:00:00Z");
  }
  if (!tags.ok()) return 0;

  // An accepted index stays usable.
  auto digest = store.put_manifest("fuzz-tag", kManifest, kMediaType);
  if (!digest.ok()) fail("put_manifest failed on an accepted index: " + digest.error().message);
  if (*digest != sha256_digest(kManifest)) fail("put_manifest returned another digest");
  auto listed = store.list_tags();
  if (!listed.ok() || !has_tag(*listed, "fuzz-tag")) fail("a put tag is not listed");
  auto got = store.get_manifest("fuzz-tag");
  if (!got.ok() || !*got || (*got)->bytes != kManifest || (*got)->digest != *digest)
    fail("a put manifest does not read back");
  if (!store.delete_manifest(*digest).ok()) fail("delete_manifest failed");
  auto gone = store.get_manifest("fuzz-tag");
  if (!gone.ok() || *gone) fail("a deleted manifest is still found by tag");
  return 0;
}
