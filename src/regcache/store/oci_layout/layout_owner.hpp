// Who may write a layout: a local tier's tags are trusted only where no one else may have
// written them (the offline fallback restores the entry a tag names on its word).
#pragma once

#include <optional>
#include <string>

namespace regcache {

// Returns why the layout at root may hold tags another user wrote (its directory or its
// index.json belongs to another user, or group or others may write it); nullopt when only
// this user (or root, which owns what a root job made) can have written them.
std::optional<std::string> layout_open_to_others(const std::string& root);

}  // namespace regcache
