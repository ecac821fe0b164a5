// Migration from the 2021 workaround: a one-layer image (FROM scratch, COPY cache.tgz)
// whose cache.tgz is a gzip tar made with `tar -P`, so its member names are absolute.
// The image's layer is streamed through digest verification and decompression; its
// cache.tgz member is streamed on through gunzip and the project's tar reader into the
// same safe Extractor every restore uses (absolute names become relative to '/'), into
// staging directories next to each destination that are moved into place only when the
// layer verified.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "regcache/archive/extractor.hpp"
#include "regcache/store/store.hpp"

namespace regcache {

// An image reference: [docker://][HOST[:PORT]/]REPO[:TAG|@DIGEST].
struct ImageRef {
  std::string store;      // "docker://HOST/REPO", for --store parsing
  std::string reference;  // tag or digest ("latest" when none was given)
};

// Parses an image reference; errors are ErrorKind::usage.
Result<ImageRef> parse_image_ref(std::string_view text);

struct LegacyTarget {
  std::string source;  // absolute path as the image's tar -P archived it
  std::string dest;    // absolute path to restore it to
};

struct LegacyReport {
  std::string digest;       // manifest digest of the image
  std::vector<bool> found;  // per target: the image held something under it
  uint64_t files = 0, bytes = 0, downloaded_bytes = 0;
};

// Restores the targets from the cache.tgz of the image `reference` in store. Targets must
// not lie inside one another. Refuses what every restore refuses (archive/extractor.hpp).
Result<LegacyReport> restore_legacy_image(Store& store, const std::string& reference,
                                          const std::vector<LegacyTarget>& targets,
                                          ExternalSymlinks symlinks);

}  // namespace regcache
