#include "regcache/lifecycle/prune_policy.hpp"

#include <cstdint>

#include <algorithm>
#include <numeric>
#include <set>

namespace regcache {

namespace {

// Returns the group an entry belongs to: the longest group_by prefix of its key, "" for
// the single implicit group, nullopt for none.
std::optional<std::string> group_of(const std::string& key, const PrunePolicy& p) {
  if (p.group_by.empty()) return std::string();
  std::optional<std::string> best;
  for (const auto& g : p.group_by) {
    if (key.rfind(g, 0) == 0 && (!best || g.size() > best->size())) best = g;
  }
  return best;
}

// The identity of an entry's manifest: its digest, or its own index when it has none.
std::string manifest_of(const std::vector<PruneEntry>& e, size_t i) {
  return e[i].digest.empty() ? "#" + std::to_string(i) : e[i].digest;
}

void apply_keep(const std::vector<PruneEntry>& e, const std::vector<size_t>& order,
                const PrunePolicy& p, std::vector<bool>* gone) {
  std::map<std::string, std::set<std::string>> seen;  // group -> manifests counted
  for (size_t i : order) {
    auto g = group_of(e[i].key, p);
    if (!g) continue;
    auto& counted = seen[*g];
    if (counted.count(manifest_of(e, i))) continue;  // a tag more of one counted already
    if (counted.size() >= *p.keep) {
      (*gone)[i] = true;
      continue;
    }
    counted.insert(manifest_of(e, i));
  }
}

// Keeps every tag of a manifest that one of its tags keeps.
void keep_shared(const std::vector<PruneEntry>& e, std::vector<bool>* gone) {
  std::set<std::string> kept;
  for (size_t i = 0; i < e.size(); ++i) {
    if (!(*gone)[i]) kept.insert(manifest_of(e, i));
  }
  for (size_t i = 0; i < e.size(); ++i) {
    if (kept.count(manifest_of(e, i))) (*gone)[i] = false;
  }
}

void apply_max_size(const std::vector<PruneEntry>& e, const std::vector<size_t>& order,
                    uint64_t budget, std::vector<bool>* gone) {
  std::set<std::string> counted;
  uint64_t total = 0;
  bool full = false;
  for (size_t i : order) {
    if ((*gone)[i]) continue;
    if (!full) {
      uint64_t extra = 0;  // sizes are what manifests claim: the sums saturate, never wrap
      for (const auto& [d, size] : e[i].blobs) {
        if (!counted.count(d)) extra = size > UINT64_MAX - extra ? UINT64_MAX : extra + size;
      }
      if (extra <= budget && total <= budget - extra) {
        total += extra;
        for (const auto& b : e[i].blobs) counted.insert(b.first);
        continue;
      }
      full = true;
    }
    (*gone)[i] = true;
  }
}

}  // namespace

TimePoint prune_time(const PruneEntry& e, PruneBy by) {
  if (by == PruneBy::last_used && e.last_used && *e.last_used > e.created) return *e.last_used;
  return e.created;
}

PrunePlan plan_prune(const std::vector<PruneEntry>& e, const PrunePolicy& p, TimePoint now) {
  std::vector<size_t> order;  // considered entries, newest first
  for (size_t i = 0; i < e.size(); ++i) {
    if (e[i].key.rfind(p.prefix, 0) == 0) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return prune_time(e[a], p.by) > prune_time(e[b], p.by);
  });
  std::vector<bool> gone(e.size(), false);
  if (p.older_than) {
    for (size_t i : order) gone[i] = now - prune_time(e[i], p.by) > *p.older_than;
  }
  if (p.keep) apply_keep(e, order, p, &gone);
  if (p.max_size) apply_max_size(e, order, *p.max_size, &gone);
  keep_shared(e, &gone);
  PrunePlan plan;
  std::set<std::string> still_used;
  for (size_t i = 0; i < e.size(); ++i) {
    if (!gone[i]) {
      for (const auto& b : e[i].blobs) still_used.insert(b.first);
    }
  }
  std::map<std::string, uint64_t> freed;
  for (size_t i : order) {
    if (!gone[i]) {
      ++plan.kept;
      continue;
    }
    plan.remove.push_back(i);
    for (const auto& [d, size] : e[i].blobs) {
      if (!still_used.count(d)) freed[d] = size;
    }
  }
  for (const auto& f : freed)
    plan.freed_bytes =
        f.second > UINT64_MAX - plan.freed_bytes ? UINT64_MAX : plan.freed_bytes + f.second;
  return plan;
}

}  // namespace regcache
