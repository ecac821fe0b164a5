"""No credential ever leaks (design.md §4: "Never log a credential").

Every command (save, restore, list, delete, key), verbose and with --json, succeeding and
failing, is run with distinctive secrets in every place regcache takes credentials from:
REGCACHE_USERNAME/REGCACHE_PASSWORD, a docker config.json auth entry, GITHUB_TOKEN (against
the GitHub Packages stand-in), user-info in the store reference, a wrong password, an
unreachable host. Then no secret, nor its base64 `user:secret` form (what a Basic
Authorization header carries), nor any JWT (the bearer tokens the token server issues) may
appear in stdout, stderr, or any file regcache wrote: the store, the state file and the
job summary ($GITHUB_STEP_SUMMARY).
"""

import base64
import json
import os
import re
import sys
import unittest
import urllib.parse
import urllib.request
import uuid

from common import SOURCE_DIR, RegcacheTestCase, make_small_tree, services

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "harness"))
from ghpackages_server import GhPackagesServer  # noqa: E402

# header.payload.signature, each base64url; the header and payload are JSON objects ("eyJ").
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
VERBOSE_JSON = ("-v", "--json")


def leak_forms(user, secret):
    """The secret and the encodings it could leak in (Basic header, URL, base64)."""
    pair = f"{user}:{secret}".encode()
    forms = {secret, urllib.parse.quote(secret, safe=""), base64.b64encode(pair).decode(),
             base64.urlsafe_b64encode(pair).decode().rstrip("="),
             base64.b64encode(secret.encode()).decode().rstrip("=")}
    return {f.encode() for f in forms}


def fetch_token(s):
    """A bearer token straight from the harness's token server."""
    url = s["TOKEN_REALM"] + "?service=" + s["TOKEN_SERVICE"] + "&scope=repository:secrets/probe:pull"
    req = urllib.request.Request(url)
    pair = f"{s['REG_TOKEN_USER']}:{s['REG_TOKEN_PASSWORD']}".encode()
    req.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["token"]


class SecretScan(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        self.s = services()
        tag = uuid.uuid4().hex[:12]
        self.wrong = f"WrongPw-{tag}-x9"
        self.env_pw = f"EnvPw-{tag}-q7"
        self.url_pw = f"UrlPw-{tag}-k2"
        self.docker_pw = f"DockerPw-{tag}-m4"
        self.gh_token = f"ghp_GhTok{tag}z5"
        self.secrets = set()
        for user, pw in ((self.s["REG_BASIC_USER"], self.s["REG_BASIC_PASSWORD"]),
                         (self.s["REG_TOKEN_USER"], self.s["REG_TOKEN_PASSWORD"]),
                         (self.s["REG_BASIC_USER"], self.wrong), ("ci-user", self.env_pw),
                         ("url-user", self.url_pw), (self.s["REG_BASIC_USER"], self.docker_pw),
                         ("octocat", self.gh_token), ("token", self.gh_token)):
            self.secrets |= leak_forms(user, pw)
        self.outputs = []  # (what was run, stdout + stderr)
        self.summary = os.path.join(self.tmp, "summary.md")
        self.runner_temp = os.path.join(self.tmp, "runner-temp")
        os.makedirs(self.runner_temp)
        self.own_files = set()  # files the test itself wrote secrets into
        make_small_tree(os.path.join(self.ws, "cache"))

    # -- running ------------------------------------------------------------------------

    def cmd(self, store, *args, env=None, flags=VERBOSE_JSON, expect=None):
        e = {"GITHUB_STEP_SUMMARY": self.summary, "RUNNER_TEMP": self.runner_temp,
             "REGCACHE_RETRY_DELAY_MS": "1"}
        e.update(env or {})
        argv = [*flags] + (["--store", store] if store else []) + list(args)
        rc, out, err = self.regcache(*argv, env=e, timeout=60)
        self.outputs.append((" ".join(argv), out + err))
        if expect is not None:
            self.assertEqual(rc, expect, f"regcache {' '.join(argv)}:\n{out}{err}")
        return rc, out, err

    def every_command(self, store, env, ok=True, key=None):
        """save (twice), restore (hit, and a miss through a restore key), list, delete, key;
        verbose with --json and verbose alone. With ok, each must succeed."""
        key = key or "secrets-" + uuid.uuid4().hex[:8]
        want = 0 if ok else None
        for flags in (VERBOSE_JSON, ("-v",)):
            self.cmd(store, "save", "--key", key, "cache", env=env, flags=flags, expect=want)
        self.cmd(store, "restore", "--key", key, "cache", env=env, expect=want)
        self.cmd(store, "restore", "--key", key + "-miss", "--restore-key", "nomatch-", "cache",
                 env=env, flags=("-v",), expect=want)
        for flags in (VERBOSE_JSON, ("-v",)):
            self.cmd(store, "list", env=env, flags=flags, expect=want)
        self.cmd(store, "delete", key, env=env, expect=want)
        self.cmd(store, "key", "k-{{ os }}", env=env, expect=0)
        return key

    def write_docker_config(self, host, user, password):
        d = os.path.join(self.tmp, "docker-" + uuid.uuid4().hex[:6])
        os.makedirs(d)
        path = os.path.join(d, "config.json")
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"auths": {host: {"auth": auth}}}, f)
        self.own_files.add(os.path.realpath(path))
        return {"DOCKER_CONFIG": d}

    # -- checking -----------------------------------------------------------------------

    def assertNoSecrets(self):
        self.assertTrue(self.outputs)
        for what, text in self.outputs:
            self.assertClean(text.encode(), f"output of regcache {what}")
        scanned = 0
        for root, _, files in os.walk(self.tmp):
            for name in files:
                path = os.path.join(root, name)
                if os.path.islink(path) or os.path.realpath(path) in self.own_files:
                    continue
                with open(path, "rb") as f:
                    self.assertClean(f.read(), path)
                scanned += 1
        self.assertGreater(scanned, 0)

    def assertClean(self, data, where):
        for form in self.secrets:
            if form in data:
                i = data.index(form)
                self.fail(f"a secret ({form.decode()!r}) leaked into {where}: "
                          f"...{data[max(0, i - 80):i + 80]!r}...")
        m = JWT.search(data)
        if m:
            self.fail(f"a bearer token leaked into {where}: {m.group(0)[:60]!r}...")

    # -- the scenarios ------------------------------------------------------------------

    def test_basic_auth_from_environment(self):
        s = self.s
        store = f"{s['REG_BASIC']}/secrets/{uuid.uuid4().hex[:8]}"
        env = {"REGCACHE_USERNAME": s["REG_BASIC_USER"], "REGCACHE_PASSWORD": s["REG_BASIC_PASSWORD"],
               "REGCACHE_CA_FILE": s["REG_CA"]}
        self.every_command(store, env)
        self.assertTrue(os.path.getsize(self.summary) > 0, "no job summary was written")
        self.assertTrue(os.listdir(self.runner_temp), "no state file was written")
        # the same store with a wrong password: every registry command fails
        bad = dict(env, REGCACHE_PASSWORD=self.wrong)
        for args in (("save", "--key", "secrets-wrong", "cache"), ("list",), ("delete", "secrets-wrong")):
            for flags in (VERBOSE_JSON, ("-v",)):
                rc, _, _ = self.cmd(store, *args, env=bad, flags=flags)
                self.assertEqual(rc, 1, args)
        self.cmd(store, "restore", "--key", "secrets-wrong", "cache", env=bad)
        self.assertNoSecrets()

    def test_docker_config_auth_entry(self):
        s = self.s
        store = f"{s['REG_BASIC']}/secrets/{uuid.uuid4().hex[:8]}"
        env = {"REGCACHE_CA_FILE": s["REG_CA"]}
        env.update(self.write_docker_config(s["REG_BASIC"], s["REG_BASIC_USER"], s["REG_BASIC_PASSWORD"]))
        self.every_command(store, env)
        env.update(self.write_docker_config(s["REG_BASIC"], s["REG_BASIC_USER"], self.docker_pw))
        rc, _, _ = self.cmd(store, "save", "--key", "secrets-docker-wrong", "cache", env=env)
        self.assertEqual(rc, 1)
        self.cmd(store, "list", env=env)
        self.assertNoSecrets()

    def test_token_auth(self):
        s = self.s
        token = fetch_token(s)
        self.assertRegex(token.encode(), JWT, "the JWT pattern does not match the server's tokens")
        self.secrets.add(token.encode())
        store = f"{s['REG_TOKEN']}/secrets/{uuid.uuid4().hex[:8]}"
        env = {"REGCACHE_USERNAME": s["REG_TOKEN_USER"], "REGCACHE_PASSWORD": s["REG_TOKEN_PASSWORD"]}
        self.every_command(store, env)
        with open(s["TOKEN_LOG"], encoding="utf-8") as f:
            granted = [json.loads(line) for line in f if line.strip()]
        self.assertTrue(any(e.get("user") == s["REG_TOKEN_USER"] for e in granted),
                        "regcache fetched no bearer token")
        bad = dict(env, REGCACHE_PASSWORD=self.wrong)
        for args in (("save", "--key", "secrets-wrong", "cache"), ("list",)):
            rc, _, _ = self.cmd(store, *args, env=bad)
            self.assertEqual(rc, 1, args)
        self.assertNoSecrets()

    def test_unreachable_host_and_userinfo_references(self):
        env = {"REGCACHE_USERNAME": "ci-user", "REGCACHE_PASSWORD": self.env_pw}
        for args in (("save", "--key", "k", "cache"), ("restore", "--key", "k", "cache"), ("list",),
                     ("delete", "k")):
            self.cmd("127.0.0.1:1/secrets/unreachable", *args, env=env)
        open_host = self.s["REG_OPEN"]
        for ref in (f"url-user:{self.url_pw}@{open_host}/secrets/userinfo",
                    f"docker://url-user:{self.url_pw}@{open_host}/secrets/userinfo",
                    f"https://url-user:{self.url_pw}@{open_host}/secrets/userinfo"):
            for args in (("save", "--key", "k", "cache"), ("restore", "--key", "k", "cache"), ("list",),
                         ("delete", "k")):
                rc, _, _ = self.cmd(ref, *args)
                self.assertNotEqual(rc, 0, f"{ref} {args}: credentials in the reference were accepted")
        self.assertNoSecrets()

    def test_github_token(self):
        gh = GhPackagesServer({self.gh_token: ["read:packages", "delete:packages"]}, orgs=["acme"],
                              registry_upstream=self.s["REG_OPEN"])
        base = gh.start()
        self.addCleanup(gh.stop)
        host = base.split("//", 1)[1]
        store = f"{host}/acme/{uuid.uuid4().hex[:8]}/cache"
        env = {"REGCACHE_GITHUB_API_URL": base, "REGCACHE_GITHUB_REGISTRY": host,
               "GITHUB_TOKEN": self.gh_token, "GITHUB_ACTOR": "octocat"}
        key = "secrets-gh-" + uuid.uuid4().hex[:8]
        self.cmd(store, "save", "--key", key + "-keep", "cache", env=env, expect=0)  # not the last
        self.every_command(store, env, key=key)
        self.assertTrue(any(r["token"] == self.gh_token and r["method"] == "DELETE" for r in gh.requests),
                        "the delete did not go through the REST API with GITHUB_TOKEN")
        bad = dict(env, GITHUB_TOKEN=self.wrong)
        self.cmd(store, "save", "--key", key, "cache", env=bad, expect=0)
        rc, _, _ = self.cmd(store, "delete", key, env=bad)
        self.assertEqual(rc, 1)
        self.assertNoSecrets()

    def test_local_layout_with_every_credential_set(self):
        env = {"REGCACHE_USERNAME": "ci-user", "REGCACHE_PASSWORD": self.env_pw,
               "GITHUB_TOKEN": self.gh_token}
        env.update(self.write_docker_config("localhost", "ci-user", self.docker_pw))
        self.every_command("oci:" + os.path.join(self.tmp, "layout"), env)
        self.assertNoSecrets()


if __name__ == "__main__":
    unittest.main()
