// Where the fields of a 512-byte ustar header lie (POSIX.1-2001 "ustar Interchange
// Format"): one table for the writer, the reader and the tests that craft archives.
#pragma once

#include <cstddef>

namespace regcache::tar {

inline constexpr size_t kBlock = 512;

struct Field {
  size_t offset, width;
};

inline constexpr Field kName{0, 100};
inline constexpr Field kMode{100, 8};
inline constexpr Field kUid{108, 8};
inline constexpr Field kGid{116, 8};
inline constexpr Field kSize{124, 12};
inline constexpr Field kMtime{136, 12};
inline constexpr Field kChecksum{148, 8};
inline constexpr Field kTypeflag{156, 1};
inline constexpr Field kLinkname{157, 100};
inline constexpr Field kMagic{257, 6};    // "ustar\0"
inline constexpr Field kVersion{263, 2};  // "00"
inline constexpr Field kDevmajor{329, 8};
inline constexpr Field kDevminor{337, 8};
inline constexpr Field kPrefix{345, 155};

}  // namespace regcache::tar
