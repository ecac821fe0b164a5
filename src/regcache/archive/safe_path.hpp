// Lexical checks on archive paths and link targets, shared by the extractor and tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "regcache/util/result.hpp"

namespace regcache {

// The longest name a component may have (NAME_MAX on Linux file systems).
inline constexpr size_t kMaxNameBytes = 255;

// Returns the path with "./" prefixes and trailing '/' removed, or nullopt when it is
// absolute, empty, has empty, "." or ".." components or one longer than kMaxNameBytes (a
// whiteout, ".wh." and a name, than kMaxNameBytes + 4), more than kMaxPathDepth
// components, or contains a NUL byte.
std::optional<std::string> normalize_archive_path(std::string_view path);

// Returns true when the path (without a trailing '/') has more than kMaxPathDepth components.
bool archive_path_too_deep(std::string_view path);

// Returns true when a symlink at `link_rel` (relative to a root; "" is the root itself)
// with target `target` resolves inside that root whatever the other symlinks in the root
// point at: relative, and ".." only before the first name (like "../lib/x").
bool symlink_stays_inside(std::string_view link_rel, std::string_view target);

// Returns the directory part of an archive path ("" for a path with no '/').
std::string_view archive_parent(std::string_view path);

// Returns the error refusing a cache entry because of what it holds at `path`.
Error hostile_entry(std::string_view path, std::string_view why);

// Returns true when `path` is `base` or lies below it ('/'-separated archive paths).
bool archive_path_within(std::string_view path, std::string_view base);

}  // namespace regcache
