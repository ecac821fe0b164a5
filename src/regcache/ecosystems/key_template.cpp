// A deliberately small template language: the only syntax is "{{", a function name,
// double-quoted arguments (with \" and \\ escapes), "}}". Anything else between the
// braces is an error that quotes the block, so a typo never silently becomes part of a
// key that then never matches.
#include "regcache/ecosystems/key_template.hpp"

#include "regcache/util/subprocess.hpp"

#include <sys/utsname.h>
#include <sys/wait.h>

#include <cstdio>
#include <ctime>
#include <vector>

#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

std::string now_compact() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

struct Call {
  std::string name;
  std::vector<std::string> args;
};

Error bad_template(std::string_view block, const std::string& why) {
  return make_error(ErrorKind::usage, "key template {{" + std::string(block) + "}}: " + why);
}

Result<Call> parse_block(std::string_view block) {
  Call c;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < block.size() && (block[i] == ' ' || block[i] == '\t')) ++i;
  };
  skip_space();
  while (i < block.size() && (isalnum(static_cast<unsigned char>(block[i])) || block[i] == '_')) {
    c.name.push_back(block[i++]);
  }
  if (c.name.empty()) return bad_template(block, "expected a function name");
  for (;;) {
    skip_space();
    if (i >= block.size()) break;
    if (block[i] != '"') return bad_template(block, "arguments must be double-quoted strings");
    std::string arg;
    for (++i; i < block.size() && block[i] != '"'; ++i) {
      if (block[i] == '\\' && i + 1 < block.size()) ++i;
      arg.push_back(block[i]);
    }
    if (i >= block.size()) return bad_template(block, "unterminated string");
    ++i;
    c.args.push_back(std::move(arg));
  }
  return c;
}

Result<std::string> call(const Call& c, std::string_view block, const TemplateContext& ctx) {
  auto want = [&](size_t n) -> Status {
    if (c.args.size() == n) return {};
    return bad_template(block,
                        c.name + " takes " + std::to_string(n) + " argument" + (n == 1 ? "" : "s"));
  };
  if (c.name == "os") {
    RC_CHECK(want(0));
    return key_os();
  }
  if (c.name == "arch") {
    RC_CHECK(want(0));
    return key_arch();
  }
  if (c.name == "now") {  // a key that changes every run, for caches that only grow (ccache)
    RC_CHECK(want(0));
    return now_compact();
  }
  if (c.name == "env") {
    RC_CHECK(want(1));
    return ctx.env ? ctx.env(c.args[0]).value_or("") : std::string();
  }
  if (c.name == "hashFiles") {
    if (c.args.empty()) return bad_template(block, "hashFiles needs at least one glob");
    return hash_files(c.args, ctx.workspace, ctx.empty);
  }
  if (c.name == "hashCommand") {
    RC_CHECK(want(1));
    auto out = RC_TRY(ctx.run ? ctx.run(c.args[0]) : run_shell_command(c.args[0]));
    return sha256_hex(out);
  }
  return bad_template(
      block, "unknown function '" + c.name + "' (os, arch, env, hashFiles, hashCommand, now)");
}

}  // namespace

std::string key_os() {
#if defined(__APPLE__)
  return "macos";
#elif defined(_WIN32)
  return "windows";
#else
  return "linux";
#endif
}

std::string key_arch() {
  utsname u{};
  ::uname(&u);
  std::string m = u.machine;
  if (m == "x86_64" || m == "amd64") return "amd64";
  if (m == "aarch64" || m == "arm64") return "arm64";
  return m;
}

Result<std::string> run_shell_command(const std::string& command) {
  CommandSpec spec;
  spec.argv = {"/bin/sh", "-c", command};
  spec.timeout = std::chrono::minutes(5);
  spec.max_output = 64 << 20;
  auto r = run_command(spec);
  if (!r.ok())
    return make_error(ErrorKind::generic, "hashCommand `" + command + "`: " + r.error().message);
  if (r->exit_code != 0) {
    // Its own words, briefly: a failing tool can print a page of backtrace.
    std::string said = last_lines(r->err, 3);
    return make_error(ErrorKind::generic, "hashCommand `" + command + "` failed (exit " +
                                              std::to_string(r->exit_code) + ")" +
                                              (said.empty() ? "" : ": " + said));
  }
  return r->out;
}

Result<std::string> render_key_template(std::string_view t, const TemplateContext& ctx) {
  std::string out;
  size_t pos = 0;
  while (pos < t.size()) {
    size_t open = t.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(t.substr(pos));
      break;
    }
    out.append(t.substr(pos, open - pos));
    size_t close = t.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return make_error(ErrorKind::usage, "key template: '{{' without '}}' in " + std::string(t));
    }
    std::string_view block = t.substr(open + 2, close - open - 2);
    auto c = RC_TRY(parse_block(block));
    out += RC_TRY(call(c, block, ctx));
    pos = close + 2;
  }
  return out;
}

}  // namespace regcache
