#include "regcache/cli/keys.hpp"
#include "regcache/cli/exit_codes.hpp"
#include "regcache/cli/settings.hpp"

#include "regcache/ecosystems/key_template.hpp"
#include "regcache/ecosystems/presets.hpp"
#include "regcache/format/key_tag.hpp"

namespace regcache {

ResolvedKeys resolve_keys(const KeyRequest& r, const GlobalOptions& g, SaveExcludes excludes) {
  Anchors anchors = resolve_anchors(g);
  TemplateContext ctx{anchors.workspace, settings().env, r.empty, nullptr};
  auto render = [&](const std::string& t) { return unwrap(render_key_template(t, ctx)); };
  ResolvedKeys out;
  std::string preset_key;
  std::vector<std::string> preset_chain;
  for (const auto& name : r.presets) {
    Preset p =
        unwrap(make_preset(name, PresetEnv{settings().env, anchors.workspace, anchors.home}));
    out.preset_paths.insert(out.preset_paths.end(), p.paths.begin(), p.paths.end());
    if (excludes == SaveExcludes::compute && p.save_excludes) {
      auto ex = p.save_excludes();
      out.preset_excludes.insert(out.preset_excludes.end(), ex.begin(), ex.end());
    }
    std::string k = render(p.key);
    std::vector<std::string> chain;
    for (const auto& rk : p.restore_keys) chain.push_back(render(rk));
    if (preset_key.empty()) {
      preset_key = k;
      preset_chain = chain;
      continue;
    }
    // Several presets: one key "A+B"; fall back on "A+" + B's chain, then on A's chain.
    std::vector<std::string> combined;
    for (const auto& c : chain) combined.push_back(preset_key + "+" + c);
    combined.insert(combined.end(), preset_chain.begin(), preset_chain.end());
    preset_key += "+" + k;
    preset_chain = combined;
  }
  out.key = r.key.empty() ? preset_key : render(r.key);
  if (out.key.empty() && !r.key.empty())
    throw CommandError(kExitUsage, "key template '" + r.key + "' expands to an empty key");
  if (out.key.empty())
    throw CommandError(kExitUsage,
                       "--key is missing or empty; give a key, or a --preset that supplies one");
  for (const auto& t : r.restore_keys) out.restore_keys.push_back(render(t));
  if (r.restore_keys.empty() && r.key.empty()) out.restore_keys = preset_chain;
  unwrap(validate_key(out.key));
  for (const auto& k : out.restore_keys) unwrap(validate_key(k));
  return out;
}

}  // namespace regcache
