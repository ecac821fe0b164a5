#!/usr/bin/python3
"""Builds cache images the way the "2021 workaround" workflow did, without a docker engine.

That workflow ran
    tar -P -czf cache.tgz /abs/path1 /abs/path2          # GNU tar, absolute member names
    printf 'FROM scratch\\nCOPY cache.tgz /cache.tgz\\n' > Dockerfile
    docker build -t IMAGE . && docker push IMAGE
so each image has one layer holding the single file /cache.tgz. Here the tarball is
made by the same tar command, and what `docker build` + `docker save` would produce is
written by hand: a docker-archive (manifest.json, <config digest>.json,
<layer id>/layer.tar + VERSION + json, repositories) with a docker-like config
(architecture amd64, os linux, rootfs.diff_ids, history). skopeo then pushes it:
Docker v2 schema 2 media types by default, OCI ones with `--format oci`.

    archive = build_legacy_archive(["/abs/path1", "/abs/path2"], workdir)
    push_legacy_image(archive, "127.0.0.1:5000/legacy/cache:v1", media="docker")   # or "oci"

Command line: legacy_image.py build --workdir DIR PATH...   (prints the archive path)
              legacy_image.py push ARCHIVE DEST [--media oci] [--creds U:P] [--tls-verify]
"""

import argparse
import datetime
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
TAR = "/bin/tar" if os.path.exists("/bin/tar") else (shutil.which("tar") or "tar")
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _container_config(cmd):
    """The field order and defaults of docker's container config (Go struct order)."""
    return {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
            "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False,
            "Env": [DEFAULT_PATH_ENV], "Cmd": cmd, "Image": "", "Volumes": None, "WorkingDir": "",
            "Entrypoint": None, "OnBuild": None, "Labels": None}


def _add_bytes(tar, name, data, mtime):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, mtime
    tar.addfile(info, io.BytesIO(data))


def make_cache_tgz(paths, workdir):
    """Runs `tar -P -czf cache.tgz PATH...` in workdir, as the workflow did. Returns its path."""
    for p in paths:
        if not os.path.isabs(p):
            raise ValueError(f"the workflow archived absolute paths; got {p!r}")
    subprocess.run([TAR, "-P", "-czf", "cache.tgz", *paths], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return os.path.join(workdir, "cache.tgz")


def build_legacy_archive(paths, workdir, repo_tag="legacy-cache:latest", created=None, cache_tgz=None):
    """Builds cache.tgz from paths and the docker-archive `docker save` would write for
    `FROM scratch` + `COPY cache.tgz /cache.tgz`. Returns the archive's path (in workdir).
    cache_tgz: a ready-made tarball to use instead (for hostile-archive tests); paths unused."""
    os.makedirs(workdir, exist_ok=True)
    tgz = cache_tgz or make_cache_tgz(paths, workdir)
    st = os.stat(tgz)
    created = created or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The layer: one regular file, cache.tgz, owned by root, with the context file's mode and mtime.
    layer_path = os.path.join(workdir, "layer.tar")
    with tarfile.open(layer_path, "w", format=tarfile.USTAR_FORMAT) as layer:
        info = tarfile.TarInfo("cache.tgz")
        info.size, info.mode, info.mtime = st.st_size, 0o644, int(st.st_mtime)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        with open(tgz, "rb") as f:
            layer.addfile(info, f)
    diff_id = "sha256:" + _sha256_file(layer_path)
    copy_cmd = f"/bin/sh -c #(nop) COPY file:{_sha256_file(tgz)} in /cache.tgz "
    container = hashlib.sha256(("container" + diff_id + created).encode()).hexdigest()
    config = {"architecture": "amd64", "config": _container_config(None), "container": container,
              "container_config": _container_config(["/bin/sh", "-c", copy_cmd[len("/bin/sh -c "):]]),
              "created": created, "docker_version": "20.10.7",
              "history": [{"created": created, "created_by": copy_cmd}],
              "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    config_bytes = json.dumps(config, separators=(",", ":")).encode()
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    layer_id = hashlib.sha256((diff_id + " " + config_hex).encode()).hexdigest()
    v1_json = json.dumps({"id": layer_id, "created": created, "container": container,
                          "container_config": config["container_config"], "config": config["config"],
                          "docker_version": "20.10.7", "architecture": "amd64", "os": "linux"},
                         separators=(",", ":")).encode()
    repo, _, tag = repo_tag.rpartition(":")
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": [repo_tag], "Layers": [f"{layer_id}/layer.tar"]}]
    archive = os.path.join(workdir, "image.tar")
    mtime = int(st.st_mtime)
    with tarfile.open(archive, "w", format=tarfile.USTAR_FORMAT) as out:
        d = tarfile.TarInfo(layer_id)
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, mtime
        out.addfile(d)
        _add_bytes(out, f"{layer_id}/VERSION", b"1.0", mtime)
        _add_bytes(out, f"{layer_id}/json", v1_json, mtime)
        out.add(layer_path, f"{layer_id}/layer.tar")
        _add_bytes(out, f"{config_hex}.json", config_bytes, mtime)
        _add_bytes(out, "manifest.json", json.dumps(manifest, separators=(",", ":")).encode(), 0)
        _add_bytes(out, "repositories", json.dumps({repo: {tag: layer_id}}, separators=(",", ":")).encode(), 0)
    os.unlink(layer_path)
    return archive


def push_legacy_image(archive, dest_ref, media="docker", creds=None, tls_verify=False, cert_dir=None):
    """Copies the docker-archive to dest_ref with skopeo. dest_ref is HOST[:PORT]/REPO:TAG
    (docker:// is implied) or any skopeo destination with a transport (oci:DIR:TAG).
    media: "docker" keeps Docker v2 schema 2 media types, "oci" converts to OCI ones."""
    if media not in ("docker", "oci"):
        raise ValueError(media)
    transports = ("docker://", "oci:", "oci-archive:", "dir:", "docker-archive:")
    dest = dest_ref if dest_ref.startswith(transports) else "docker://" + dest_ref
    args = [SKOPEO, "--insecure-policy", "copy", "--quiet"]
    if dest.startswith("docker://"):
        args.append(f"--dest-tls-verify={'true' if tls_verify else 'false'}")
        if cert_dir:
            args += ["--dest-cert-dir", cert_dir]
        if creds:
            args += ["--dest-creds", creds]
    args += ["--format", "oci" if media == "oci" else "v2s2", f"docker-archive:{archive}", dest]
    with tempfile.TemporaryDirectory(prefix="legacy-skopeo-") as home:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home}
        p = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"skopeo copy to {dest} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return dest


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--workdir", required=True)
    b.add_argument("--tag", default="legacy-cache:latest")
    b.add_argument("paths", nargs="+")
    p = sub.add_parser("push")
    p.add_argument("archive")
    p.add_argument("dest")
    p.add_argument("--media", choices=("docker", "oci"), default="docker")
    p.add_argument("--creds")
    p.add_argument("--tls-verify", action="store_true")
    p.add_argument("--cert-dir")
    a = ap.parse_args()
    if a.cmd == "build":
        print(build_legacy_archive(a.paths, a.workdir, a.tag))
    else:
        print(push_legacy_image(a.archive, a.dest, a.media, a.creds, a.tls_verify, a.cert_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
