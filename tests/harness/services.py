#!/usr/bin/python3
"""Starts and stops the real registries the regcache end-to-end tests run against.

    services.py start --dir DIR   # start everything, write DIR/services.env and
                                  # DIR/services.json, return once all answer
    services.py stop --dir DIR    # kill what start started (DIR/pids); idempotent

Services (each on a free 127.0.0.1 port, own storage under DIR, delete enabled):
  open   docker-registry, plain HTTP, no auth
  basic  docker-registry, HTTPS (cert for 127.0.0.1/localhost from a test CA,
         DIR/ca.crt), htpasswd Basic auth (bcrypt, user regcache-user)
  token  docker-registry, plain HTTP, token auth, plus token_server.py (same
         directory) signing ES256 JWTs with a self-signed cert the registry trusts

Every child runs in its own session with stdin from /dev/null and output to
DIR/<name>.log, so a caller capturing our stdout never waits on them.  Each pid
is recorded in DIR/pids (with its /proc start time, so a recycled pid is never
killed) as soon as it is spawned: `stop` can always clean up, even after a
start that was interrupted.  Uses the stdlib plus python3-cryptography only.
"""

import argparse
import base64
import datetime
import http.client
import ipaddress
import json
import os
import secrets
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
REGISTRY_BIN = "/usr/bin/docker-registry"
PYTHON = "/usr/bin/python3"
HOST = "127.0.0.1"
READY_TIMEOUT = 20.0
BASIC_USER = "regcache-user"
TOKEN_USER = "token-user"
TOKEN_SERVICE = "test-registry"
TOKEN_ISSUER = "test-issuer"


class StartError(Exception):
    """A service failed to come up; the message is the one-line report."""


# ---------------------------------------------------------------- certificates

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path, key):
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_cert(path, cert):
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def _cert_builder(subject, issuer, public_key):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365)))


def make_ca(crt_path, key_path):
    """Writes a self-signed test CA; returns (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_cert_builder(_name("regcache test CA"), _name("regcache test CA"), key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_cert(crt_path, cert)
    _write_key(key_path, key)
    return cert, key


def make_server_cert(ca_cert, ca_key, crt_path, key_path):
    """Writes a TLS server cert for 127.0.0.1, ::1 and localhost signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                       x509.IPAddress(ipaddress.ip_address("::1"))])
    cert = (_cert_builder(_name("localhost"), ca_cert.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(san, critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_cert(crt_path, cert)
    _write_key(key_path, key)


def make_token_signer(crt_path, key_path):
    """Writes the ES256 token-signing key and its self-signed cert (the rootcertbundle)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_cert_builder(_name("regcache test token signer"), _name("regcache test token signer"),
                          key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=False,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_cert(crt_path, cert)
    _write_key(key_path, key)


# ---------------------------------------------------------------- processes

def free_port():
    """Returns a loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def proc_start_time(pid):
    """Returns the /proc start time of pid, or None when it no longer runs (or is a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def child_env():
    """The caller's environment minus REGISTRY_* (which would override the config)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}


def spawn(d, name, argv, log_path):
    """Starts argv detached with output to log_path and records it in DIR/pids."""
    with open(log_path, "wb") as log, open(os.devnull, "rb") as null:
        proc = subprocess.Popen(argv, stdin=null, stdout=log, stderr=subprocess.STDOUT,
                                cwd=d, env=child_env(), start_new_session=True)
    with open(os.path.join(d, "pids"), "a") as f:
        f.write("%s %d %s\n" % (name, proc.pid, proc_start_time(proc.pid) or "-"))
    return proc


def read_pids(d):
    """Returns [(name, pid, starttime)] from DIR/pids."""
    try:
        with open(os.path.join(d, "pids")) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            out.append((parts[0], int(parts[1]), parts[2]))
    return out


def alive(pid, starttime):
    now = proc_start_time(pid)
    return now is not None and (starttime == "-" or now == starttime)


def wait_gone(procs, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs = [p for p in procs if alive(p[1], p[2])]
        if not procs:
            return []
        time.sleep(0.05)
    return [p for p in procs if alive(p[1], p[2])]


def stop_all(d, children=()):
    """Stops every recorded process: SIGTERM, then SIGKILL after 10 s. Returns survivors."""
    procs = [p for p in read_pids(d) if alive(p[1], p[2])]
    for _, pid, _ in procs:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    left = wait_gone(procs, 10.0)
    for _, pid, _ in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    left = wait_gone(left, 5.0)
    for child in children:  # reap our own children (only during a failed start)
        try:
            child.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
    return left


# ---------------------------------------------------------------- readiness

def log_tail(path, lines=5):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    tail = [l.strip() for l in text.splitlines() if l.strip(" \t^~")][-lines:]
    return " | ".join(tail) if tail else "(empty log)"


def http_get(hostport, path, tls_ca=None, headers=None):
    """Returns (status, headers, body) of one GET, never through a proxy."""
    host, port = hostport.rsplit(":", 1)
    if tls_ca:
        ctx = ssl.create_default_context(cafile=tls_ca)
        conn = http.client.HTTPSConnection(host, int(port), timeout=2, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def wait_ready(name, proc, log_path, probe, timeout=None):
    """Polls probe() until it returns True; raises StartError naming the service."""
    timeout = READY_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        code = proc.poll()
        if code is not None:
            raise StartError("%s: exited with status %d during startup; log: %s"
                             % (name, code, log_tail(log_path)))
        try:
            result = probe()
            if result is True:
                return
            last = result
        except (OSError, http.client.HTTPException, ssl.SSLError) as e:
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            raise StartError("%s: not ready after %.0fs (%s); log: %s"
                             % (name, timeout, last, log_tail(log_path)))
        time.sleep(0.05)


def expect_status(hostport, want, tls_ca=None, headers=None, challenge=None):
    """A probe: GET /v2/ must answer `want` (and carry `challenge` in WWW-Authenticate)."""
    def probe():
        status, hdrs, _ = http_get(hostport, "/v2/", tls_ca, headers)
        if status != want:
            return "GET /v2/ answered %d, expected %d" % (status, want)
        if challenge and not (hdrs.get("WWW-Authenticate") or "").startswith(challenge):
            return "unexpected challenge %r" % hdrs.get("WWW-Authenticate")
        return True
    return probe


# ---------------------------------------------------------------- registries

def q(value):
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(str(value))


def registry_config(data_dir, addr, tls=None, auth=None, access_log=False):
    lines = [
        "version: 0.1",
        "log:",
        "  level: warn",
        "  formatter: text",
        "  accesslog:",
        "    disabled: %s" % ("false" if access_log else "true"),
        "storage:",
        "  cache:",  # as Debian's packaged /etc/docker/registry/config.yml has it
        "    blobdescriptor: inmemory",
        "  filesystem:",
        "    rootdirectory: %s" % q(data_dir),
        "  delete:",
        "    enabled: true",
        "  maintenance:",
        "    uploadpurging:",
        "      enabled: false",
        "http:",
        "  addr: %s" % q(addr),
        "  secret: %s" % q(secrets.token_hex(16)),
    ]
    if tls:
        lines += ["  tls:", "    certificate: %s" % q(tls[0]), "    key: %s" % q(tls[1])]
    if auth:
        kind, opts = auth
        lines += ["auth:", "  %s:" % kind] + ["    %s: %s" % (k, q(v)) for k, v in opts.items()]
    return "\n".join(lines) + "\n"


def start_registry(d, name, log_name, make_probe, tls=None, auth=None, access_log=False,
                   children=None):
    """Starts one docker-registry on a free port (retrying on a port race); returns host:port."""
    data_dir = os.path.join(d, name, "data")
    os.makedirs(data_dir, exist_ok=True)
    log_path = os.path.join(d, log_name)
    for attempt in range(3):
        addr = "%s:%d" % (HOST, free_port())
        cfg_path = os.path.join(d, name, "config.yml")
        with open(cfg_path, "w") as f:
            f.write(registry_config(data_dir, addr, tls, auth, access_log))
        proc = spawn(d, name, [REGISTRY_BIN, "serve", cfg_path], log_path)
        children.append(proc)
        try:
            wait_ready(name, proc, log_path, make_probe(addr))
            return addr
        except StartError:
            if proc.poll() is not None and "address already in use" in log_tail(log_path, 20) \
                    and attempt < 2:
                continue
            raise
    raise AssertionError("unreachable")


def start_token_server(d, cfg, children):
    """Starts token_server.py on a port it picks itself; returns host:port."""
    port_file = cfg["port_file"]
    if os.path.exists(port_file):
        os.unlink(port_file)
    cfg_path = os.path.join(d, "token", "server.json")
    fd = os.open(cfg_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=1)
    log_path = os.path.join(d, "token-server.log")
    proc = spawn(d, "token-server", [PYTHON, os.path.join(HERE, "token_server.py"),
                                     "--config", cfg_path], log_path)
    children.append(proc)
    addr = []

    def probe():
        if not addr:
            try:
                with open(port_file) as f:
                    addr.append("%s:%d" % (HOST, int(f.read())))
            except (FileNotFoundError, ValueError):
                return "port file not written yet"
        status, _, _ = http_get(addr[0], "/healthz")
        return True if status == 200 else "GET /healthz answered %d" % status
    wait_ready("token-server", proc, log_path, probe)
    return addr[0]


def token_self_check(reg, tok, user, password):
    """Fetches a token with the test credentials and uses it on the token registry."""
    path = "/token?service=%s&scope=repository:selfcheck:pull" % TOKEN_SERVICE
    status, _, body = http_get(tok, path, headers={"Authorization": basic(user, password)})
    if status != 200:
        raise StartError("token-server: self-check token request answered %d" % status)
    token = json.loads(body)["token"]
    status, _, body = http_get(reg, "/v2/", headers={"Authorization": "Bearer " + token})
    if status != 200:
        raise StartError("token: registry rejected a token from the token server (%d): %s"
                         % (status, body[:200].decode("utf-8", "replace")))


# ---------------------------------------------------------------- commands

def write_outputs(d, env):
    with open(os.path.join(d, "services.env.tmp"), "w") as f:
        for k, v in env.items():
            f.write("%s=%s\n" % (k, shlex.quote(str(v))))
    os.replace(os.path.join(d, "services.env.tmp"), os.path.join(d, "services.env"))
    with open(os.path.join(d, "services.json.tmp"), "w") as f:
        json.dump(env, f, indent=2)
        f.write("\n")
    os.replace(os.path.join(d, "services.json.tmp"), os.path.join(d, "services.json"))


def start(d, access_log, token_expiry, token_realm=None):
    if [p for p in read_pids(d) if alive(p[1], p[2])]:
        raise StartError("services already running in %s (run stop first)" % d)
    for stale in ("pids", "services.env", "services.json"):
        try:
            os.unlink(os.path.join(d, stale))
        except FileNotFoundError:
            pass
    for sub in ("open", "basic", "token", "certs"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)

    ca_crt = os.path.join(d, "ca.crt")
    ca_cert, ca_key = make_ca(ca_crt, os.path.join(d, "ca.key.pem"))
    # A cert dir holding only the CA, for skopeo --cert-dir / docker certs.d style use.
    with open(ca_crt, "rb") as src, open(os.path.join(d, "certs", "ca.crt"), "wb") as dst:
        dst.write(src.read())
    tls = (os.path.join(d, "basic", "server.crt"), os.path.join(d, "basic", "server.key"))
    make_server_cert(ca_cert, ca_key, *tls)
    signer = (os.path.join(d, "token", "signer.crt"), os.path.join(d, "token", "signer.key"))
    make_token_signer(*signer)

    basic_pw = secrets.token_hex(12)
    token_pw = secrets.token_hex(12)
    htpasswd = subprocess.run(["htpasswd", "-Bbn", BASIC_USER, basic_pw],
                              capture_output=True, text=True)
    if htpasswd.returncode != 0:
        raise StartError("basic: htpasswd failed: %s" % htpasswd.stderr.strip())
    htpasswd_path = os.path.join(d, "basic", "htpasswd")
    with open(htpasswd_path, "w") as f:
        f.write(htpasswd.stdout.strip() + "\n")

    token_log = os.path.join(d, "token.log")
    children = []
    try:
        reg_open = start_registry(d, "open", "open.log",
                                  lambda a: expect_status(a, 200),
                                  access_log=access_log, children=children)
        reg_basic = start_registry(
            d, "basic", "basic.log",
            lambda a: expect_status(a, 200, tls_ca=ca_crt,
                                    headers={"Authorization": basic(BASIC_USER, basic_pw)}),
            tls=tls, auth=("htpasswd", {"realm": "regcache-test", "path": htpasswd_path}),
            access_log=access_log, children=children)
        with open(token_log, "w"):
            pass
        tok = start_token_server(d, {
            "host": HOST, "port": 0, "port_file": os.path.join(d, "token", "port"),
            "key": signer[1], "cert": signer[0], "user": TOKEN_USER, "password": token_pw,
            "service": TOKEN_SERVICE, "issuer": TOKEN_ISSUER, "request_log": token_log,
            "expires_in": token_expiry}, children)
        realm = token_realm or "http://%s/token" % tok
        reg_token = start_registry(
            d, "token", "token-registry.log",
            lambda a: expect_status(a, 401, challenge='Bearer realm="%s"' % realm),
            auth=("token", {"realm": realm, "service": TOKEN_SERVICE, "issuer": TOKEN_ISSUER,
                            "rootcertbundle": signer[0]}),
            access_log=access_log, children=children)
        token_self_check(reg_token, tok, TOKEN_USER, token_pw)
        with open(token_log, "w"):  # tests see only their own token requests
            pass
    except BaseException:
        stop_all(d, children)
        raise

    write_outputs(d, {
        "SERVICES_DIR": d,
        "REG_OPEN": reg_open,
        "REG_BASIC": reg_basic,
        "REG_BASIC_USER": BASIC_USER,
        "REG_BASIC_PASSWORD": basic_pw,
        "REG_CA": ca_crt,
        "REG_CERT_DIR": os.path.join(d, "certs"),
        "REG_TOKEN": reg_token,
        "REG_TOKEN_USER": TOKEN_USER,
        "REG_TOKEN_PASSWORD": token_pw,
        "TOKEN_SERVER": tok,
        "TOKEN_REALM": realm,
        "TOKEN_SERVICE": TOKEN_SERVICE,
        "TOKEN_ISSUER": TOKEN_ISSUER,
        "TOKEN_LOG": token_log,
    })


def main():
    ap = argparse.ArgumentParser(description="Start/stop the regcache test registries.")
    ap.add_argument("command", choices=["start", "stop"])
    ap.add_argument("--dir", required=True, help="state directory (created if missing)")
    ap.add_argument("--access-log", action="store_true",
                    help="start: let the registries write access logs to their logs")
    ap.add_argument("--token-realm", metavar="URL",
                    help="start: the realm the token registry's challenge names, in place of the "
                         "token server's own address (for a proxy the caller puts in front of it)")
    ap.add_argument("--token-expiry", type=int, default=300,
                    help="start: token lifetime in seconds (default 300)")
    args = ap.parse_args()
    d = os.path.abspath(args.dir)
    prog = os.path.basename(sys.argv[0])
    if args.command == "stop":
        left = stop_all(d)
        if left:
            print("%s: error: could not stop %s" % (prog, ", ".join(
                "%s (pid %d)" % (n, p) for n, p, _ in left)), file=sys.stderr)
            return 1
        return 0
    os.makedirs(d, exist_ok=True)
    try:
        start(d, args.access_log, args.token_expiry, args.token_realm)
    except StartError as e:
        print("%s: error: %s" % (prog, e), file=sys.stderr)
        return 1
    except Exception as e:  # any other failure still gets one line (processes already killed)
        print("%s: error: %s: %s" % (prog, type(e).__name__, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
