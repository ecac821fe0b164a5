// regcache: save and restore CI caches in OCI registries or local OCI layouts.
// main parses the command line, runs one command, and turns failures into exit codes:
// 0 success (a restore miss included), 1 error, 2 usage error, 3 miss with --fail-on-miss.
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/context.hpp"
#include "regcache/cli/help_text.hpp"
#include "regcache/cli/output.hpp"
#include "regcache/cli/parse_errors.hpp"
#include "regcache/cli/validators.hpp"
#include "regcache/util/clock.hpp"
#include "regcache/util/fd_limit.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"

namespace {

// Some container jobs and systemd units run without HOME: take the passwd entry's home
// then, so '~', the default store and the auth files mean what they mean for that user.
void default_home_from_passwd() {
  const char* home = std::getenv("HOME");
  if (home && home[0] == '/') return;
  const passwd* pw = ::getpwuid(::geteuid());
  if (pw && pw->pw_dir && pw->pw_dir[0] == '/') ::setenv("HOME", pw->pw_dir, 1);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace regcache;
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe or socket is an error value, not a crash
  // Passwords, tokens and a signing key live in this process's memory: no core file (a
  // runner with cores on would keep them), and no other process of the user may read it.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  default_home_from_passwd();
  (void)process_umask();  // read once while this is the only thread
  raise_open_file_limit();
  install_interrupt_handlers();
  GlobalOptions g;
  CLI::App app{"regcache: save and restore CI caches in any OCI registry or local OCI layout",
               "regcache"};
  app.set_version_flag("--version", "regcache " REGCACHE_VERSION);
  app.add_option("--store", g.store, "oci:PATH or [docker://]HOST[:PORT]/REPO (env REGCACHE_STORE)")
      ->check(non_empty());
  app.add_flag("--json", g.json, "Print the result as JSON on stdout");
  auto* quiet = app.add_flag("-q,--quiet", g.quiet, "Print nothing but errors");
  app.add_flag("-v,--verbose", g.verbose, "Explain what is done and why")->excludes(quiet);
  app.add_flag("--insecure", g.insecure, "Skip TLS verification and allow plain HTTP");
  app.add_option("--workspace", g.workspace,
                 "Workspace directory (default: CI checkout or current directory)")
      ->check(non_empty());
  app.add_option("--local-cache", g.local_cache,
                 "A local OCI layout kept as a blob cache in front of a registry store (env "
                 "REGCACHE_LOCAL_CACHE)")
      ->check(non_empty());
  app.add_option("--local-cache-max", g.local_cache_max,
                 "Keep the local cache under SIZE, evicting least recently used blobs (env "
                 "REGCACHE_LOCAL_CACHE_MAX)")
      ->check(non_empty());
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
  add_keygen_command(app, g);
  add_docs_commands(app);
  add_examples(app);
  // With --json every outcome is one JSON value on stdout, failures included.
  // Read from the words themselves for a line that does not parse (up to "--": after it
  // "--json" is a path), and from the parsed flag otherwise (--json=true counts).
  bool json_asked = false;
  for (int i = 1; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    const std::string_view a = argv[i];
    if (a == "--json" || a == "--json=true" || a == "--json=1") json_asked = true;
  }
  auto fail = [&](const std::string& message, int code) {
    const bool json = g.json || json_asked;
    const char* kind = code == kExitUsage       ? "usage error: "
                       : code > kExitSignalBase ? ""
                                                : "error: ";
    std::fprintf(stderr, "%s\n",
                 printable_line(std::string("regcache: ") + kind + message).c_str());
    if (json && !result_printed()) print_line(error_json(message, code));
    return code;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return fail(parse_error_message(app, e, argc, argv), kExitUsage);
  } catch (const CommandError& e) {
    return fail(e.what(), e.exit_code);
  } catch (const std::exception& e) {
    return fail(e.what(), kExitError);
  }
  return 0;
}
