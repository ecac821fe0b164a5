// `regcache completion bash|zsh` and `regcache man`: generated from the parser's own
// definition of every command and option.
#include <memory>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/docs_gen.hpp"
#include "regcache/cli/output.hpp"

namespace regcache {

void add_docs_commands(CLI::App& app) {
  auto shell = std::make_shared<std::string>();
  auto* completion = app.add_subcommand("completion", "Print a shell completion script");
  completion->add_option("shell", *shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion->callback(
      [shell, &app] { print_text(*shell == "bash" ? bash_completion(app) : zsh_completion(app)); });
  auto* man = app.add_subcommand("man", "Print the man page (roff)");
  man->callback([&app] { print_text(man_page(app, REGCACHE_VERSION)); });
}

}  // namespace regcache
