// Content-defined packing at file granularity. Walking the sorted entries, a pack is cut
// after a file when the pack holds at least min_bytes and a hash of the file's path and
// size falls under a threshold proportional to the file's size. So the cut points are
// chosen by the files themselves, not by their position: inserting or removing a file
// changes the pack it lands in, and the boundaries after it fall on the same files again
// as soon as the next qualifying file is reached. A file of max_bytes/2 or more gets a
// pack of its own. Hard links are moved into the pack of the file they point at, so each
// layer can be extracted on its own, in parallel with the others.
#include "regcache/format/pack_plan.hpp"

#include <xxhash.h>

#include <algorithm>
#include <string>
#include <unordered_map>

namespace regcache {

namespace {

constexpr uint64_t kHeaderBytes = 1024;  // a pax header + ustar header, roughly

uint64_t entry_bytes(const FileEntry& e) {
  return kHeaderBytes + (e.type == FileType::regular ? (e.size + 511) / 512 * 512 : 0);
}

bool qualifies(const FileEntry& e, uint64_t weight, const PackOptions& o) {
  uint64_t span = o.target_bytes > o.min_bytes ? o.target_bytes - o.min_bytes : 1;
  std::string key = e.path + '\0' + std::to_string(e.size);
  uint64_t h = XXH3_64bits(key.data(), key.size());
  // P(cut) = weight / span, computed on the top 32 bits to avoid overflow.
  uint64_t threshold = weight >= span ? UINT32_MAX : (weight << 32) / span;
  return (h >> 32) < threshold;
}

}  // namespace

std::vector<Pack> plan_packs(const std::vector<FileEntry>& entries, const PackOptions& o) {
  std::vector<Pack> packs;
  std::vector<size_t> pack_of(entries.size(), 0);
  Pack cur;
  auto cut = [&] {
    if (!cur.entries.empty()) packs.push_back(std::move(cur));
    cur = Pack{};
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.type == FileType::hardlink) continue;  // placed below
    uint64_t w = entry_bytes(e);
    bool huge = w >= o.max_bytes / 2;
    if (huge) cut();
    pack_of[i] = packs.size();
    cur.entries.push_back(i);
    cur.bytes += w;
    if (huge || cur.bytes >= o.max_bytes || (cur.bytes >= o.min_bytes && qualifies(e, w, o))) cut();
  }
  cut();
  std::unordered_map<std::string, size_t> index_of;  // only when there are hard links
  bool linked = std::any_of(entries.begin(), entries.end(),
                            [](const FileEntry& e) { return e.type == FileType::hardlink; });
  for (size_t i = 0; linked && i < entries.size(); ++i) {
    if (entries[i].type == FileType::regular) index_of[entries[i].path] = i;
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].type != FileType::hardlink) continue;
    auto it = index_of.find(entries[i].link_target);
    if (packs.empty()) packs.emplace_back();
    size_t p = it == index_of.end() ? packs.size() - 1 : pack_of[it->second];
    packs[p].entries.push_back(i);
    packs[p].bytes += kHeaderBytes;
  }
  for (auto& p : packs) {  // keep archive order: entries were indexes into a sorted list
    std::sort(p.entries.begin(), p.entries.end());
  }
  return packs;
}

}  // namespace regcache
