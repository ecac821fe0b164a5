#include "regcache/cli/suggest.hpp"

#include <algorithm>

namespace regcache {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

void add_names(const CLI::App& app, std::vector<std::string>& out) {
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& l : o->get_lnames()) out.push_back("--" + l);
  }
}

}  // namespace

std::string closest_name(const CLI::App& app, const std::string& word) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands()) add_names(*sub, names);  // the parsed one
  add_names(app, names);
  if (word.rfind("-", 0) != 0) {
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      names.push_back(sub->get_name());
  }
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 4) + 1;  // close means a typo or two
  for (const auto& n : names) {
    size_t d = edit_distance(word, n);
    if (n.rfind(word, 0) == 0 && word.size() >= 5) d = std::min<size_t>(d, 1);  // a prefix: --stor
    if (d < best_d) {
      best_d = d;
      best = n;
    }
  }
  return best;
}

std::vector<std::string> unexpected_words(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::App* sub : app.get_subcommands()) {
    for (const auto& w : sub->remaining()) out.push_back(w);
  }
  for (const auto& w : app.remaining()) out.push_back(w);
  return out;
}

}  // namespace regcache
