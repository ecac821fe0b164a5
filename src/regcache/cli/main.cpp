// regcache: save and restore CI caches in OCI registries or local OCI layouts.
// main parses the command line, runs one command, and turns failures into exit codes:
// 0 success (a restore miss included), 1 error, 2 usage error, 3 miss with --fail-on-miss.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <string>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/context.hpp"
#include "regcache/cli/help_text.hpp"
#include "regcache/util/log.hpp"

int main(int argc, char** argv) {
  using namespace regcache;
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe or socket is an error value, not a crash
  GlobalOptions g;
  CLI::App app{"regcache: save and restore CI caches in any OCI registry or local OCI layout",
               "regcache"};
  app.set_version_flag("--version", "regcache " REGCACHE_VERSION);
  app.add_option("--store", g.store,
                 "oci:PATH or [docker://]HOST[:PORT]/REPO (env REGCACHE_STORE)");
  app.add_flag("--json", g.json, "Print the result as JSON on stdout");
  app.add_flag("-q,--quiet", g.quiet, "Print nothing but errors");
  app.add_flag("-v,--verbose", g.verbose, "Explain what is done and why");
  app.add_flag("--insecure", g.insecure, "Skip TLS verification and allow plain HTTP");
  app.add_option("--workspace", g.workspace,
                 "Workspace directory (default: CI checkout or current directory)");
  app.add_option("--summary", g.summary,
                 "Append a Markdown result table to FILE (default $GITHUB_STEP_SUMMARY)");
  app.require_subcommand(1);
  app.fallthrough();
  add_save_command(app, g);
  add_restore_command(app, g);
  add_list_command(app, g);
  add_delete_command(app, g);
  add_prune_command(app, g);
  add_import_command(app, g);
  add_key_commands(app, g);
  add_docs_commands(app);
  add_examples(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::string unknown =
        app.get_subcommands().empty() && !app.remaining().empty() ? app.remaining()[0] : "";
    if (!unknown.empty() && unknown[0] != '-') {
      std::fprintf(stderr, "regcache: usage error: unknown command '%s' (see regcache --help)\n",
                   unknown.c_str());
    } else {
      std::fprintf(stderr, "regcache: usage error: %s\n", e.what());
    }
    return 2;
  } catch (const CommandError& e) {
    std::fprintf(stderr, "regcache: error: %s\n", e.what());
    return e.exit_code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "regcache: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
