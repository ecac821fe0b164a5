// Migration from the 2021 workaround (docs/lifecycle.md): `restore --from-image` restores
// paths from such an image; `import` turns one into a regcache entry by restoring it into
// a private staging directory and running the ordinary save pipeline on that, with each
// root archived under the anchor (ws/, home/, abs/) its original absolute path has here.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/exit_codes.hpp"
#include "regcache/cli/output.hpp"
#include "regcache/cli/settings.hpp"
#include "regcache/cli/validators.hpp"
#include "regcache/core/cache_paths.hpp"
#include "regcache/core/save.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/lifecycle/migration.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

namespace {

struct ImportArgs {
  std::string image, image_positional, key;
  std::vector<std::string> paths;
  bool no_external_symlinks = false;
  double timeout = 3600;
};

// Returns the absolute, normalized paths, dropping any inside another one.
std::vector<std::string> absolute_roots(const std::vector<std::string>& paths,
                                        const Anchors& anchors) {
  if (paths.empty())
    throw CommandError(kExitUsage, "--from-image needs at least one --path to restore");
  std::vector<std::string> abs;
  for (const auto& p : paths) abs.push_back(unwrap(absolute_path(p, anchors.home)));
  std::sort(abs.begin(), abs.end());
  std::vector<std::string> out;
  for (const auto& p : abs) {
    if (!out.empty() && (p == out.back() || p.rfind(out.back() + "/", 0) == 0)) continue;
    if (p == "/") throw CommandError(kExitUsage, "refusing to restore onto /");
    out.push_back(p);
  }
  return out;
}

// Opens the registry repository an image reference names.
std::pair<std::unique_ptr<Store>, std::string> open_image(const std::string& text,
                                                          const GlobalOptions& g) {
  ImageRef ref = unwrap(parse_image_ref(text));
  return {open_store(other_store(g, ref.store), StoreUse::read), ref.reference};
}

std::string temp_root() {
  return settings().tmpdir;
}

void run_import(const ImportArgs& a, const GlobalOptions& g) {
  apply_verbosity(g);
  auto t0 = std::chrono::steady_clock::now();
  std::string image = !a.image.empty() ? a.image : a.image_positional;
  if (image.empty()) throw CommandError(kExitUsage, "import needs an image (--from-image REF)");
  unwrap(validate_key(a.key));
  Anchors anchors = resolve_anchors(g);
  auto roots = absolute_roots(a.paths, anchors);
  GlobalOptions gt = g;
  gt.timeout_seconds = a.timeout;
  auto [source, reference] = open_image(image, gt);
  auto store = open_store(gt, StoreUse::write);
  remove_stale(temp_root(), kStagePrefix);
  std::string tmp = temp_root() + "/" + owned_temp_name(kStagePrefix);
  if (::mkdir(tmp.c_str(), 0700) != 0) unwrap(Status(errno_error("cannot create", tmp, errno)));
  UniqueFd held(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (held) hold_temp(held.get());  // until the staged copy is gone
  struct Cleanup {
    std::string path;
    ~Cleanup() { (void)remove_tree(path); }
  } cleanup{tmp};
  std::vector<LegacyTarget> targets;
  for (size_t i = 0; i < roots.size(); ++i)
    targets.push_back({roots[i], tmp + "/r" + std::to_string(i)});
  auto symlinks = a.no_external_symlinks ? ExternalSymlinks::refuse : ExternalSymlinks::allow;
  auto legacy = unwrap(restore_legacy_image(*source, reference, targets, symlinks));
  PathSpec spec;
  for (size_t i = 0; i < roots.size(); ++i) {
    if (legacy.found[i]) spec.roots.push_back({targets[i].dest, anchor_path(anchors, roots[i])});
  }
  if (spec.roots.empty())
    throw CommandError(kExitError, "the image holds none of the paths to import");
  SaveOptions o;
  o.key = a.key;
  o.anchors = anchors;
  o.resolved = normalized(std::move(spec));
  apply_save_settings(o, g);  // the same pack size and job counts as `save`
  o.records.dir.clear();      // its roots are staging directories, never saved again
  auto rep = unwrap(save_entry(*store, o));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (g.json) {
    print_line(json_line(nlohmann::json{{"result", to_string(rep.result)},
                                        {"key", rep.key},
                                        {"image", image},
                                        {"image_digest", legacy.digest},
                                        {"digest", rep.digest},
                                        {"files", rep.files},
                                        {"bytes", rep.bytes},
                                        {"uploaded_bytes", rep.uploaded_bytes},
                                        {"layers", rep.layers},
                                        {"seconds", seconds}}));
  }
  log_info(fmt::format("Imported {} as key {}: {} ({}), {}", image, rep.key,
                       counted(rep.files, "file", "files"), human_bytes(rep.bytes),
                       rep.result == SaveResult::exists ? "the key already existed" : "saved"));
}

}  // namespace

void run_restore_from_image(const std::string& image, const std::vector<std::string>& paths,
                            ExternalSymlinks symlinks, const GlobalOptions& g) {
  apply_verbosity(g);
  auto t0 = std::chrono::steady_clock::now();
  Anchors anchors = resolve_anchors(g);
  auto roots = absolute_roots(paths, anchors);
  auto [source, reference] = open_image(image, g);
  std::vector<LegacyTarget> targets;
  for (const auto& r : roots) targets.push_back({r, r});
  auto rep = unwrap(restore_legacy_image(*source, reference, targets, symlinks));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (g.json) {
    print_line(json_line(nlohmann::json{{"result", "hit"},
                                        {"key", image},
                                        {"matched_key", image},
                                        {"files", rep.files},
                                        {"bytes", rep.bytes},
                                        {"downloaded_bytes", rep.downloaded_bytes},
                                        {"seconds", seconds}}));
  }
  log_info(fmt::format("Restored {} ({}) from image {} in {:.2f}s",
                       counted(rep.files, "file", "files"), human_bytes(rep.bytes), image,
                       seconds));
}

void add_import_command(CLI::App& app, GlobalOptions& g) {
  auto args = std::make_shared<ImportArgs>();
  auto* sub = app.add_subcommand(
      "import",
      "Turn an image made by the 2021 workaround (cache.tgz in a one-layer image) "
      "into a cache entry");
  sub->add_option("image", args->image_positional, "The image (same as --from-image)");
  sub->add_option("--from-image", args->image, "The image: [docker://]HOST/REPO[:TAG|@DIGEST]");
  sub->add_option("--key", args->key, "Key of the new entry")->required();
  add_timeout_option(sub, &args->timeout);
  sub->add_option("--path", args->paths,
                  "A path the image's cache.tgz holds (a relative one is taken from the "
                  "current directory; repeatable; required)")
      ->allow_extra_args(false);
  add_external_symlink_flags(sub, &args->no_external_symlinks);
  sub->callback([args, &g] { run_import(*args, g); });
}

}  // namespace regcache
