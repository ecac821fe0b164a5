// Path anchoring: a cached path inside the workspace is stored under "ws/", inside the
// home directory under "home/", anything else under "abs/", so a cache restores onto a
// runner whose checkout or home directory differs.
#pragma once

#include <string>
#include <string_view>

#include "regcache/util/result.hpp"

namespace regcache {

struct Anchors {
  std::string workspace;  // absolute, normalized, no trailing '/'
  std::string home;       // absolute, normalized, no trailing '/'
  // The same directories with symlinks resolved where that differs (a checkout reached
  // through a link, whose relative paths come out of getcwd resolved); else empty.
  std::string workspace_real = {};
  std::string home_real = {};
};

// Returns the lexically normalized absolute form of path (relative to cwd, '~' expanded
// against home); an error for an empty path.
Result<std::string> absolute_path(std::string_view path, const std::string& home);

// Returns the archive root for an absolute, normalized path ("ws/target", "home/.npm",
// "abs/opt/x"); the longest matching anchor (either spelling) wins, the workspace on a tie.
std::string anchor_path(const Anchors& anchors, const std::string& abs_path);

// Returns the absolute destination of an archive root, or an error for an unknown anchor
// or an unsafe root.
Result<std::string> resolve_anchor(const Anchors& anchors, std::string_view root);

}  // namespace regcache
