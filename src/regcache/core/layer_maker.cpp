#include "regcache/core/layer_maker.hpp"

#include <algorithm>
#include <memory>

#include "regcache/archive/tar_writer.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/parallel.hpp"
#include "regcache/util/task_pool.hpp"
#include "regcache/util/temp_file.hpp"

namespace regcache {

namespace {

// Writes one pack as a compressed tar into a new temporary file and describes it,
// fingerprint included (computed from the same tar bytes on their way to the compressor).
Result<LayerInfo> build_layer(const std::vector<FileEntry>& entries, const Pack& pack,
                              const SaveOptions& o, TempFile& tmp,
                              std::vector<EntryPrint>* prints) {
  RC_CHECK(tmp.create());
  FdSink file(tmp.fd.get(), tmp.path);
  HashingSink compressed(&file);
  auto compressor = make_compressor(o.compression, o.level, &compressed);
  HashingSink tar_bytes(compressor.get());
  FingerprintSink fingerprint(&tar_bytes);
  ProgressSink progress(&fingerprint, o.progress);
  TarWriter tar(&progress);
  Status st;
  for (size_t i : pack.entries) {
    st = check_interrupted();
    if (st.ok()) st = tar.add(entries[i]);
    if (!st.ok()) break;
    EntryPrint p = fingerprint.take_entry();
    if (prints) (*prints)[i] = p;
  }
  if (st.ok()) st = tar.close();
  RC_CHECK(st);
  LayerInfo info;
  info.diff_id = tar_bytes.digest();
  info.descriptor.media_type = std::string(layer_media_type(o.compression));
  info.descriptor.digest = compressed.digest();
  info.descriptor.size = compressed.bytes();
  info.descriptor.annotations[kAnnoPackSize] = std::to_string(tar_bytes.bytes());
  info.descriptor.annotations[kAnnoFingerprint] = fingerprint.fingerprint();
  return info;
}

// Writes the delta layer of a plan: its changed entries and its whiteouts, in path order.
// The prints of the changed entries become those of the bytes written.
Result<LayerInfo> build_delta_layer(const std::vector<FileEntry>& entries, const DeltaPlan& plan,
                                    const SaveOptions& o, TempFile& tmp,
                                    std::vector<EntryPrint>& prints) {
  std::vector<FileEntry> items;
  items.reserve(plan.changed.size() + plan.whiteouts.size());
  for (size_t i : plan.changed) items.push_back(entries[i]);
  for (const auto& path : plan.whiteouts) {
    FileEntry w;
    auto slash = path.rfind('/');
    w.path = slash == std::string::npos
                 ? ".wh." + path
                 : path.substr(0, slash + 1) + ".wh." + path.substr(slash + 1);
    w.mode = 0644;
    items.push_back(std::move(w));
  }
  // Whiteouts sort among the entries; plan.changed is in path order, so entry k of
  // `items` before sorting is plan.changed[k].
  std::vector<size_t> order(items.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return items[a].path < items[b].path; });
  Pack all;
  all.entries = order;
  std::vector<EntryPrint> written(items.size());
  LayerInfo info = RC_TRY(build_layer(items, all, o, tmp, &written));
  for (size_t k = 0; k < plan.changed.size(); ++k) prints[plan.changed[k]] = written[k];
  info.descriptor.annotations.erase(kAnnoFingerprint);  // never taken for a pack
  info.descriptor.annotations[kAnnoDelta] = "true";
  return info;
}

}  // namespace

Status upload_if_missing(Store& store, const Descriptor& d, const BlobSource& src,
                         std::atomic<uint64_t>* uploaded) {
  if (RC_TRY(store.has_blob(d))) {
    log_verbose("blob " + d.digest + " already stored");
    return {};
  }
  RC_CHECK(store.put_blob(d, src));
  *uploaded += d.size;
  return {};
}

Status LayerMaker::run(const std::function<Status(TaskPool&)>& when_built) {
  const Store& base_store = o.base_store ? *o.base_store : store;
  // A registry refuses a manifest naming a blob it lacks, so the layers of a base entry
  // in this very repository need no HEAD each: the manifest PUT checks them at once.
  const StoreProperties here = store.properties();
  const bool base_here =
      here.manifest_blobs == ManifestBlobCheck::refused &&
      (!o.base_store || o.base_store->properties().registry_repository == here.registry_repository);
  TaskPool transfers(o.jobs, 2 * o.jobs);
  Status built = parallel_for(packs.size(), o.cpu_jobs, [&](size_t i) -> Status {
    RC_CHECK(gate.so_far());
    if (base.by_fingerprint.empty()) return build_and_send(i, transfers);
    std::string fp = fps ? (*fps)[i] : RC_TRY(pack_fingerprint(entries, packs[i], &prints, &known));
    auto again = reusable_layer(base, fp, o.compression);
    if (!again) return build_and_send(i, transfers);
    if (base_here) {
      unchecked[i] = 1;
      return take(i, *again);
    }
    relinking = true;  // the transfer may pack it again, and so change layers[i]
    return transfers.submit([&, i, layer = *again]() -> Status {
      if (RC_TRY(store.link_blob(layer.descriptor, base_store))) return take(i, layer);
      log_verbose("blob " + layer.descriptor.digest + " of the base is gone; packing again");
      return build_and_upload(i);
    });
  });
  if (built.ok() && when_built && !relinking) built = when_built(transfers);
  Status sent = transfers.wait();
  RC_CHECK(built);
  return sent;
}

bool LayerMaker::took_unchecked() const {
  return std::find(unchecked.begin(), unchecked.end(), 1) != unchecked.end();
}

Status LayerMaker::repair() {
  return parallel_for(packs.size(), o.jobs, [&](size_t i) -> Status {
    if (!unchecked[i] || RC_TRY(store.has_blob(layers[i].descriptor))) return {};
    --reused;
    return build_and_upload(i);
  });
}

Status LayerMaker::take(size_t i, const LayerInfo& layer) {
  layers[i] = layer;
  ++reused;
  if (o.progress && !fps) o.progress->done += packs[i].bytes;  // else counted when read
  return {};
}

Status LayerMaker::build_and_send(size_t i, TaskPool& transfers) {
  auto tmp = std::make_shared<TempFile>(stage + std::to_string(i));
  layers[i] = RC_TRY(build_layer(entries, packs[i], o, *tmp, &prints));
  compressed[i] = 1;
  return transfers.submit([this, i, tmp]() -> Status {
    return upload_if_missing(store, layers[i].descriptor, {tmp->path, ""}, &uploaded);
  });
}

Status LayerMaker::build_and_upload(size_t i) {
  TempFile tmp(stage + std::to_string(i));
  layers[i] = RC_TRY(build_layer(entries, packs[i], o, tmp, &prints));
  compressed[i] = 1;
  return upload_if_missing(store, layers[i].descriptor, {tmp.path, ""}, &uploaded);
}

Result<std::vector<std::string>> fingerprint_packs(const std::vector<FileEntry>& entries,
                                                   const std::vector<Pack>& packs,
                                                   const SaveOptions& o, const SaveGate& gate,
                                                   std::vector<EntryPrint>& prints,
                                                   const std::vector<char>& known) {
  std::vector<std::string> fps(packs.size());
  Status st = parallel_for(packs.size(), o.cpu_jobs, [&](size_t i) -> Status {
    RC_CHECK(check_interrupted());
    RC_CHECK(gate.so_far());
    fps[i] = RC_TRY(pack_fingerprint(entries, packs[i], &prints, &known));
    if (o.progress) o.progress->done += packs[i].bytes;
    return {};
  });
  RC_CHECK(st);
  return fps;
}

Result<std::vector<LayerInfo>> stack_on_base(Store& store, const SaveOptions& o,
                                             const SaveBase& base,
                                             const std::vector<FileEntry>& entries,
                                             const DeltaPlan& plan, std::vector<EntryPrint>& prints,
                                             std::atomic<uint64_t>& uploaded, bool* unchecked) {
  std::vector<LayerInfo> layers;
  for (size_t i = 0; i < base.delta.layers.size(); ++i)
    layers.push_back({base.delta.layers[i], base.diff_ids[i]});
  *unchecked = store.properties().manifest_blobs == ManifestBlobCheck::refused;
  if (!*unchecked) {
    std::atomic<bool> all{true};
    Status st = parallel_for(layers.size(), o.jobs, [&](size_t i) -> Status {
      if (!RC_TRY(store.has_blob(layers[i].descriptor))) all = false;
      return {};
    });
    RC_CHECK(st);
    if (!all) {
      log_verbose("a blob of the base entry is gone; packing as usual");
      return std::vector<LayerInfo>();
    }
  }
  if (plan.choice == DeltaChoice::delta) {
    TempFile tmp(store.staging_dir() + "/" + owned_temp_name(".regcache-upload-") + "-delta");
    LayerInfo top = RC_TRY(build_delta_layer(entries, plan, o, tmp, prints));
    RC_CHECK(upload_if_missing(store, top.descriptor, {tmp.path, ""}, &uploaded));
    layers.push_back(std::move(top));
  }
  return layers;
}

}  // namespace regcache
