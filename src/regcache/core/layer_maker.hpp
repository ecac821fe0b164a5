// A save's layers: packs reused from the base entry or read, compressed and uploaded on the
// save's threads beside its transfers, and the delta layer stacked on the base.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "regcache/core/delta_plan.hpp"
#include "regcache/core/save.hpp"
#include "regcache/core/save_base.hpp"
#include "regcache/format/fingerprint.hpp"
#include "regcache/format/pack_plan.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

class TaskPool;

// Whether the save may write: the answer to "is the key saved already?", asked beside the
// walk and the packing. An error (the key is saved, or the question failed) stops the save.
struct SaveGate {
  std::shared_future<Status> answer;  // invalid: nothing asked (--force)
  // Returns the answer's error once it came, ok before; never waits.
  Status so_far() const {
    if (!answer.valid() || answer.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
      return {};
    return answer.get();
  }
  // Waits for the answer.
  Status settled() const { return answer.valid() ? answer.get() : Status{}; }
};

// Uploads the blob unless the store holds it already; counts the bytes sent in `uploaded`.
Status upload_if_missing(Store& store, const Descriptor& d, const BlobSource& src,
                         std::atomic<uint64_t>* uploaded);

// Turns planned packs into layers: each is reused from the base or compressed and
// uploaded. Two stages: packs are read and compressed on cpu_jobs threads while the
// transfers pool checks, mounts and uploads finished ones, with a bounded queue between.
struct LayerMaker {
  Store& store;
  const SaveOptions& o;
  const std::vector<FileEntry>& entries;
  const std::vector<Pack>& packs;
  const SaveBase& base;
  std::vector<EntryPrint>& prints;                // filled in for every entry of every pack
  const std::vector<char>& known;                 // entries whose print is in already
  const std::vector<std::string>* fps = nullptr;  // the packs' fingerprints, when known
  const SaveGate& gate;
  std::vector<LayerInfo> layers = std::vector<LayerInfo>(packs.size());
  std::vector<char> unchecked = std::vector<char>(packs.size(), 0);   // reused without a HEAD
  std::vector<char> compressed = std::vector<char>(packs.size(), 0);  // read and compressed
  std::atomic<uint64_t> uploaded{0}, reused{0};
  std::atomic<bool> relinking{false};  // some layer goes through link_blob in a transfer
  std::string stage = store.staging_dir() + "/" + owned_temp_name(".regcache-upload-") + "-";

  // Produces every layer; returns the first failure. `when_built` runs once every pack is
  // compressed, before the last uploads end, unless a layer may still be packed again.
  Status run(const std::function<Status(TaskPool&)>& when_built = {});

  // Returns true when some layer was reused without checking that the store has it.
  bool took_unchecked() const;

  // Checks each layer reused unchecked and packs again the ones the store lacks.
  Status repair();

 private:
  Status take(size_t i, const LayerInfo& layer);
  Status build_and_send(size_t i, TaskPool& transfers);
  Status build_and_upload(size_t i);
};

// Fingerprints every pack (reading every file once) and fills in each entry's print.
Result<std::vector<std::string>> fingerprint_packs(const std::vector<FileEntry>& entries,
                                                   const std::vector<Pack>& packs,
                                                   const SaveOptions& o, const SaveGate& gate,
                                                   std::vector<EntryPrint>& prints,
                                                   const std::vector<char>& known);

// Takes the base's layers as they are, with the plan's delta layer on top when it has one.
// Returns no layers when a base blob is gone (the save then packs as usual); `unchecked`
// says they were taken on the word of the manifest PUT, which a registry checks.
Result<std::vector<LayerInfo>> stack_on_base(Store& store, const SaveOptions& o,
                                             const SaveBase& base,
                                             const std::vector<FileEntry>& entries,
                                             const DeltaPlan& plan, std::vector<EntryPrint>& prints,
                                             std::atomic<uint64_t>& uploaded, bool* unchecked);

}  // namespace regcache
