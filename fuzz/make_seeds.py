#!/usr/bin/python3
"""Writes the hand-made seed corpora under fuzz/corpus/ (docs/fuzzing.md).

Run from anywhere: `fuzz/make_seeds.py`. Deterministic (fixed mtimes, no owners), so a
rerun rewrites the same bytes. Tars use the roots the extractor target restores: ws/a,
home/b and abs/tmp/c. Files this script does not write are kept: the manifest, config and
index.json a real `regcache save` wrote (regcache_*), and inputs a fuzzer found (crash-*).
"""
import io
import json
import os
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
MTIME = 1700000000.123456789


def entry(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, link="", pax=None):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, MTIME, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.uname = info.gname = ""
    if pax:
        info.pax_headers = pax
    return info, (data if kind == tarfile.REGTYPE else None)


def tar(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for info, data in entries:
            t.addfile(info, None if data is None else io.BytesIO(data))
    # Keep two zero blocks at the end, not tarfile's padding to 10 KiB.
    data = buf.getvalue().rstrip(b"\0")
    return data + b"\0" * (-len(data) % 512 + 1024)


D, F, L, H = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
LONG = "ws/a/" + "/".join(["deeply-nested-directory-%02d" % i for i in range(6)]) + "/file.rs"

TARS = {
    # What a save writes: pax headers with nanosecond mtimes, modes, an empty directory.
    "pax_files_dirs": [entry("ws/a", D, mode=0o755), entry("ws/a/hello.txt", F, b"hello\n"),
                       entry("ws/a/bin", D, mode=0o750),
                       entry("ws/a/bin/run", F, b"#!/bin/sh\necho hi\n", 0o755),
                       entry("ws/a/empty", D, mode=0o700),
                       entry("ws/a/big.bin", F, bytes(range(256)) * 9)],
    # pax path and linkpath longer than the 100-byte ustar fields.
    "pax_long_names": [entry(LONG, F, b"fn main() {}\n"),
                       entry("ws/a/long-link", L, link=LONG[len("ws/a/"):]),
                       entry("ws/a/pax-path-override", F, b"x",
                             pax={"path": "ws/a/from-pax-header", "comment": "ignored"})],
    # GNU 'L'/'K' long names instead of pax.
    "gnu_long_names": ([entry(LONG, F, b"gnu\n"), entry("ws/a/gnu-link", L, link=LONG[5:] + "x" * 60)],
                       tarfile.GNU_FORMAT),
    # ustar with the name split into prefix + name.
    "ustar_prefix": ([entry("ws/a/" + "p" * 90 + "/" + "n" * 90, F, b"ustar\n")], tarfile.USTAR_FORMAT),
    # Symlinks: inside (relative, via ..), and external (a virtualenv's interpreter).
    "symlinks": [entry("ws/a/lib", D, mode=0o755), entry("ws/a/lib/python3.11", D, mode=0o755),
                 entry("ws/a/lib/python3.11/site.py", F, b"# site\n"),
                 entry("ws/a/lib64", L, link="lib"),
                 entry("ws/a/bin", D, mode=0o755),
                 entry("ws/a/bin/python", L, link="/usr/bin/python3"),
                 entry("ws/a/bin/site", L, link="../lib/python3.11/site.py"),
                 entry("ws/a/up", L, link="../../outside/canary")],
    # Hard links within a root, and across roots (refused).
    "hardlinks": [entry("ws/a/f", F, b"shared content\n"), entry("ws/a/g", H, link="ws/a/f"),
                  entry("ws/a/d", D), entry("ws/a/d/h", H, link="ws/a/f"),
                  entry("home/b/x", F, b"home\n"), entry("home/b/y", H, link="ws/a/f")],
    # Several roots and an entry under none (skipped).
    "multi_root": [entry("ws/a/one", F, b"1"), entry("home/b/.cargo", D),
                   entry("home/b/.cargo/registry", F, b"2"),
                   entry("abs/tmp/c/three", F, b"3"), entry("other/skipped", F, b"4")],
    # The root itself as one file.
    "root_is_file": [entry("home/b", F, b"a single cached file\n")],
    # A pax global header (ignored) and a pax mtime before 1970.
    "pax_global": [entry("ws/a/old", F, b"old", pax={"mtime": "-1.5"}),
                   entry("ws/a/new", F, b"new", pax={"mtime": "4102444800.000000001"})],
    # Hostile entries, each refused: .. and absolute paths, writing through a symlink,
    # device node, FIFO, setuid, duplicate.
    "hostile_dotdot": [entry("ws/a/../../escape", F, b"x")],
    "hostile_absolute": [entry("/tmp/escape", F, b"x")],
    "hostile_through_symlink": [entry("ws/a/out", L, link="../../outside"),
                                entry("ws/a/out/pwned", F, b"x")],
    "hostile_device_fifo": [entry("ws/a/dev", tarfile.CHRTYPE), entry("ws/a/fifo", tarfile.FIFOTYPE)],
    "hostile_setuid": [entry("ws/a/suid", F, b"x", 0o4755)],
    "hostile_duplicate": [entry("ws/a/dup", F, b"1"), entry("ws/a/dup", F, b"2")],
    # Whiteouts, read as markers in the target's delta pass: a removed file, an opaque
    # directory, and ones refused (of a root, outside the roots, with content, malformed).
    "whiteouts": [entry("ws/a/.wh.gone", F), entry("ws/a/d", D),
                  entry("ws/a/d/.wh..wh..opq", F), entry("ws/a/d/kept", F, b"k"),
                  entry("ws/a/l", H, link="ws/a/d/kept")],
    "hostile_whiteouts": [entry("ws/.wh.a", F), entry("home/.wh..wh..opq", F),
                          entry("ws/a/.wh.x", F, b"content"), entry("ws/a/.wh..wh.plnk", F)],
}


def tar_bytes(spec):
    entries, fmt = spec if isinstance(spec, tuple) else (spec, tarfile.PAX_FORMAT)
    data = tar(entries, fmt)
    if any(i.pax_headers.get("mtime", "").startswith("-") for i, _ in entries):
        # tarfile writes no global header on its own: put one in front.
        g = tarfile.TarInfo("pax_global_header")
        g.type, g.pax_headers = tarfile.XGLTYPE, {"comment": "global"}
        data = g.tobuf(tarfile.PAX_FORMAT) + data
    return data


MANIFEST_OCI_SPEC = {  # the image-spec's example manifest
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
               "size": 7023},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0",
                "size": 32654},
               {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b",
                "size": 16724}],
    "annotations": {"com.example.key1": "value1", "com.example.key2": "value2"},
}
MANIFEST_DOCKER = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
               "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
                "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}],
}
CONFIG_OCI_SPEC = {  # the image-spec's example config
    "created": "2015-10-31T22:22:56.015925234Z", "author": "Alyssa P. Hacker <alyspdev@example.com>",
    "architecture": "amd64", "os": "linux",
    "config": {"User": "alice", "ExposedPorts": {"8080/tcp": {}}, "Env": ["PATH=/usr/bin"],
               "Entrypoint": ["/bin/my-app-binary"], "WorkingDir": "/home/alice"},
    "rootfs": {"diff_ids": ["sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1",
                            "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"],
               "type": "layers"},
    "history": [{"created": "2015-10-31T22:22:54.690851953Z",
                 "created_by": "/bin/sh -c #(nop) ADD file:a3bc1e842b69636f9df5256c49c5374fb4eef1e281fe3f282c65fb853ee171c5 in /"}],
}
INDEX_OCI_SPEC = {  # the image-layout spec's example index.json
    "schemaVersion": 2,
    "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "size": 7143,
         "digest": "sha256:0228f90e926ba6b96e4f39cf294b2586d38fbb5a1e385c05cd1ee40ea54fe7fd",
         "annotations": {"org.opencontainers.image.ref.name": "stable-release"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 7143,
         "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
         "platform": {"architecture": "ppc64le", "os": "linux"},
         "annotations": {"org.opencontainers.image.ref.name": "v1.0"}},
        {"mediaType": "application/xml", "size": 7143,
         "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
         "annotations": {"org.freedesktop.specifications.metainfo.version": "1.0"}}],
    "annotations": {"com.example.index.revision": "r124356"},
}

KEYS = ["cargo-linux-0123456789abcdef", "deps_v1.2", "v1.0.0", "node modules/with spaces",
        "Linux-x64-cargo-" + "ab" * 32, "..hidden", "-leading-dash", "_underscore",
        "key--double", "ключ-юникод", "x" * 300, "a:b@c#d", "release/v1.1.0-rust"]

CHALLENGES = [  # distribution's token auth spec, Docker Hub, ghcr.io, a Basic registry
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
    'scope="repository:samalba/my-app:pull,push"',
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
    'scope="repository:samalba/my-app:pull,push",error="insufficient_scope"',
    'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/app:pull"',
    'Basic realm="Registry Realm"',
    'basic realm=registry, charset="UTF-8"',
    'Negotiate\nBearer realm="http://127.0.0.1:5001/token",service="test-registry"',
    'Bearer realm="https://example.com/token",error_description="quote \\" and \\\\ inside"',
]


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def main():
    for name, spec in TARS.items():
        data = tar_bytes(spec)
        write("extractor", name + ".tar", data)
        write("tar_reader", name + ".tar", data)
    write("tar_reader", "truncated.tar", tar_bytes(TARS["pax_files_dirs"])[:1300])
    write("manifest", "oci_spec_manifest.json", json.dumps(MANIFEST_OCI_SPEC, indent=2))
    write("manifest", "docker_schema2_manifest.json", json.dumps(MANIFEST_DOCKER, indent=3))
    write("manifest", "oci_spec_config.json", json.dumps(CONFIG_OCI_SPEC))
    write("layout_index", "oci_spec_index.json", json.dumps(INDEX_OCI_SPEC, indent=2))
    write("layout_index", "empty_index.json",
          '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}')
    for i, key in enumerate(KEYS):
        write("key_tag", "key%02d" % i, key)
    for i, c in enumerate(CHALLENGES):
        write("challenge", "challenge%02d" % i, c)


if __name__ == "__main__":
    main()
