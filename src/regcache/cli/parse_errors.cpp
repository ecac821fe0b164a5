#include "regcache/cli/parse_errors.hpp"

#include <algorithm>
#include <vector>

#include "regcache/cli/suggest.hpp"

namespace regcache {

namespace {

// " (did you mean X?)" for a mistyped option or command, "" when nothing is close.
std::string did_you_mean(const CLI::App& app, const std::string& word) {
  std::string near = closest_name(app, word);
  return near.empty() ? "" : "; did you mean " + near + "?";
}

// The words the parser did not take, in the order they were typed.
std::vector<std::string> unexpected_in_order(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> left = unexpected_words(app), out;
  for (int i = 1; i < argc; ++i) {
    auto it = std::find(left.begin(), left.end(), argv[i]);
    if (it == left.end()) continue;
    out.push_back(*it);
    left.erase(it);
  }
  return out;
}

// The first word before any command that looks like an option, "" when there is none.
std::string option_before_command(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") break;
    if (a.rfind("-", 0) == 0 && a.size() > 1) return a.substr(0, a.find('='));
  }
  return "";
}

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

std::string parse_error_message(const CLI::App& app, const CLI::ParseError& e, int argc,
                                char** argv) {
  const std::string what = e.what();
  const bool no_command = app.get_subcommands().empty();
  if (no_command && !app.remaining().empty() && app.remaining()[0][0] != '-') {
    const std::string word = app.remaining()[0];
    const std::string near = closest_name(app, word);
    return "unknown command '" + word + "'" +
           (near.empty() ? " (see regcache --help)" : "; did you mean '" + near + "'?");
  }
  auto words = unexpected_in_order(app, argc, argv);
  for (const auto& w : words) {
    if (w.size() > 1 && w[0] == '-') {
      const std::string name = w.substr(0, w.find('='));
      return "unknown option '" + name + "'" + did_you_mean(app, name);
    }
  }
  if (!words.empty()) {
    std::string list;
    for (const auto& w : words) list += (list.empty() ? "'" : " '") + w + "'";
    return "unexpected argument" + std::string(words.size() > 1 ? "s " : " ") + list;
  }
  if (contains(what, "A subcommand is required")) {
    // "regcache --bogus": the unknown word was taken for an option of the program.
    if (std::string opt = option_before_command(argc, argv);
        !opt.empty() && !app.get_option_no_throw(opt))
      return "unknown option '" + opt + "'" + did_you_mean(app, opt);
    return "a command is required: save, restore, list, delete, prune, ... (see regcache --help)";
  }
  // "--key: At Most 1 required but received 2"
  if (auto at = what.find(": At Most 1 required but received "); at != std::string::npos)
    return what.substr(0, at) + " is given more than once";
  // "--key: 1 required TEXT missing"
  if (auto at = what.find(": 1 required "); at != std::string::npos && contains(what, "missing"))
    return what.substr(0, at) + " needs a value";
  // "keys is required"
  if (auto at = what.find(" is required"); at != std::string::npos && at + 12 == what.size())
    return "missing " + what.substr(0, at) + " (see regcache " +
           (no_command ? std::string() : app.get_subcommands()[0]->get_name() + " ") + "--help)";
  return what;
}

}  // namespace regcache
