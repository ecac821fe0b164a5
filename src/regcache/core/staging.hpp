// A restore's staging locations: one per destination, beside it (inside it when it is a
// mount point), so that a completed one moves into place by renames (core/place.hpp). They are made
// before anything is extracted and removed, with the parent directories the restore created, when
// the restore fails or a location stays empty. Used by restore and by the migration of 2021 images.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "regcache/archive/extractor.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

struct StageTarget {
  std::string prefix;  // the archive path extracted into it
  std::string scope;   // the cache root holding prefix, when prefix is only part of one
  std::string dest;    // the absolute destination
};

class Staging {
 public:
  // Opens (creating) each destination's parent directory, following symlinks on the way only
  // under the protected-symlinks rule (util/dir_path.hpp), and names a staging location
  // beside it. A destination that is itself a symlink to a directory (a target/ on another
  // disk) is restored into that directory, under the same rule. On failure nothing stays.
  static Result<Staging> prepare(std::vector<StageTarget> targets);

  Staging(Staging&&) = default;
  Staging& operator=(Staging&&) = delete;
  ~Staging();  // drops every location neither placed nor dropped

  // Returns where the extractor writes each target, in order.
  std::vector<ExtractRoot> extract_roots() const;
  // Returns the number of targets.
  size_t size() const { return slots_.size(); }
  // Returns target i (its dest resolved as described at prepare).
  const StageTarget& target(size_t i) const { return slots_[i].target; }
  // Returns true when extraction created target i's staging location.
  bool holds(size_t i) const;
  // Refuses a staged directory where the destination holds something else (a file of the
  // user's), and a staged file or symlink where it holds a directory: replacing either
  // would lose the user's. With several targets, also what any of their merges would meet
  // below (core/merge.hpp, check_merge), so that one target's conflict places none.
  Status check_destinations() const;
  // Moves target i into place (a merge into an existing directory: core/place.hpp).
  Status place(size_t i);
  // Removes target i's staging location and the parent directories prepare created for it,
  // when they are empty.
  void drop(size_t i);

 private:
  struct Slot {
    StageTarget target;
    UniqueFd parent;
    std::string name;          // of the staging location in parent
    std::string created_from;  // topmost parent directory prepare created, if any
    std::string inside;        // why parent is dest itself (a mount point...), if it is
    std::string unwritable;    // why dest's directory cannot be made (a path inside a root)
    timespec dest_times[2]{};  // dest's times before staging, when inside
    bool done = false;
  };
  Staging() = default;
  Status check_merges() const;
  void drop_nested();  // leaves a target whose destination lies in another's to that one
  std::unique_ptr<TempHolds> holds_ = std::make_unique<TempHolds>();  // the staging locations
  std::vector<Slot> slots_;
};

}  // namespace regcache
