"""The fault sweep's table (issue 6): which request each fault hits, which faults, how
often, and what outcome each class must end in. test_faults.py runs every case.

A case is one regcache run (a save into a fresh repository, or a restore of a prepared
entry) through its own fault proxy with one or two rules. Classes:
  transient  the command must succeed and the data must be exactly right
  permanent  the command must fail cleanly (one `regcache:` line, exit 1), leaving the
             destination unchanged and no tag behind
  either     success with exact data, or a clean failure; never wrong bytes
"""

from dataclasses import dataclass, field

# Request kinds regcache makes. op: the command that makes them; count: how many such
# requests a fault-free run makes with the sweep's tree (so "nth=3" only where count>=3).
CHUNK = "100000"  # REGCACHE_UPLOAD_CHUNK for the PATCH target: the 300 KB blobs go in PATCHes
TARGETS = {
    "manifest GET (restore)": dict(op="restore", method="GET", path=r"/manifests/", count=1),
    "tags list (restore-key)": dict(op="restore", method="GET", path=r"/tags/list", count=1,
                                    restore_key=True),
    "blob GET": dict(op="restore", method="GET", path=r"/blobs/sha256:", count=7),
    "manifest GET (save)": dict(op="save", method="GET", path=r"/manifests/", count=1),
    "blob HEAD": dict(op="save", method="HEAD", path=r"/blobs/sha256:", count=7),
    "upload POST": dict(op="save", method="POST", path=r"/blobs/uploads/$", count=7),
    "upload PATCH": dict(op="save", method="PATCH", path=r"/blobs/uploads/.", count=9,
                         env={"REGCACHE_UPLOAD_CHUNK": CHUNK}),
    "upload PUT": dict(op="save", method="PUT", path=r"/blobs/uploads/.", count=7),
    "manifest PUT": dict(op="save", method="PUT", path=r"/manifests/", count=1),
}

# A stall that lasts until the case's proxy stops, after the run: a run that ends at all
# (before the harness kills it) must have given up on the stalled transfer, however fast or
# busy the machine is. REGCACHE_STALL_TIMEOUT is 2 s in the tests.
STALL_HELD = 3600


@dataclass
class Case:
    target: str
    kind: str          # a label: reset_mid_body, status 503, corrupt_byte, ...
    occurrence: str    # nth=1, first_n=3, always
    expect: str        # transient | permanent | either
    rules: list
    env: dict = field(default_factory=dict)

    @property
    def op(self):
        return TARGETS[self.target]["op"]

    @property
    def restore_key(self):
        return TARGETS[self.target].get("restore_key", False)

    @property
    def name(self):
        return f"{self.expect}: {self.kind} @ {self.target} [{self.occurrence}]"


def _rule(target, action, occurrence, **params):
    t = TARGETS[target]
    r = {"method": t["method"], "path": t["path"], "action": action}
    k, _, v = occurrence.partition("=")
    r[k] = True if k == "always" else int(v)
    r.update(params)
    return r


def _case(target, kind, occurrence, expect, action, path=None, extra_rules=(), **params):
    rule = _rule(target, action, occurrence, **params)
    if path:
        rule["path"] = path
    env = dict(TARGETS[target].get("env", {}))
    return Case(target, kind, occurrence, expect, [rule, *extra_rules], env)


def build_cases(big_layer_digest, medium_layer_digest, small_layer_digest):
    """Every case of the sweep. The digests name layers of the restore entry, so a fault can
    hit one chosen blob (path regexes are searched in the request target). Restore never
    fetches the config blob; it reads the manifest's annotations."""
    cases = []
    for target, t in TARGETS.items():
        multi = ["nth=1", "nth=3"] if t["count"] >= 3 else ["nth=1"]
        for occ in multi + (["nth=5"] if t["count"] >= 5 else []):
            cases.append(_case(target, "reset_mid_body", occ, "transient", "reset_mid_body"))
            cases.append(_case(target, "reset_request", occ, "transient", "reset_request"))
        for occ in multi:
            cases.append(_case(target, "truncate", occ, "transient", "truncate"))
        cases.append(_case(target, "status 429 Retry-After: 0", "first_n=1", "transient", "status",
                           status=429, retry_after=0))
        cases.append(_case(target, "status 429", "first_n=3", "transient", "status", status=429))
        cases.append(_case(target, "status 500", "first_n=1", "transient", "status", status=500))
        cases.append(_case(target, "status 500", "first_n=2", "transient", "status", status=500))
        cases.append(_case(target, "status 502", "first_n=1", "transient", "status", status=502))
        cases.append(_case(target, "status 503", "first_n=1", "transient", "status", status=503))
        cases.append(_case(target, "status 503", "first_n=4", "transient", "status", status=503))
        cases.append(_case(target, "status 504", "first_n=2", "transient", "status", status=504))
        cases.append(_case(target, "status 408", "first_n=1", "transient", "status", status=408))
        cases.append(_case(target, "stall 0.3s before headers", "nth=1", "transient", "stall", seconds=0.3))
        cases.append(_case(target, "stall 0.3s mid-body", multi[-1], "transient", "stall", seconds=0.3,
                           where="body"))
        cases.append(_case(target, "stall held before headers", "nth=1", "transient", "stall",
                           seconds=STALL_HELD))
        # permanent: refused, broken for good, or never answering
        cases.append(_case(target, "status 403", "always", "permanent", "status", status=403))
        cases.append(_case(target, "status 500", "always", "permanent", "status", status=500))
        cases.append(_case(target, "reset_request", "always", "permanent", "reset_request"))

    blob = "blob GET"
    big = r"/blobs/" + big_layer_digest
    # resumable downloads: cut a big layer at chosen offsets; a server ignoring Range
    for after in (1, 150_000, 301_000):
        cases.append(_case(blob, f"reset_mid_body after {after} B", "nth=1", "transient", "reset_mid_body",
                           path=big, after=after))
    cases.append(_case(blob, "reset_mid_body, Range ignored", "nth=1", "transient", "reset_mid_body", path=big,
                       extra_rules=[{"method": "GET", "path": big, "range": True, "always": True,
                                     "action": "ignore_range"}]))
    cases.append(_case(blob, "truncate, Range ignored", "nth=1", "transient", "truncate", path=big,
                       extra_rules=[{"method": "GET", "path": big, "range": True, "always": True,
                                     "action": "ignore_range"}]))
    cases.append(_case(blob, "stall held mid-body", "nth=1", "transient", "stall", path=big,
                       seconds=STALL_HELD, where="body"))
    for target in ("blob GET", "upload PUT"):
        cases.append(_case(target, "status 429 Retry-After: 1", "first_n=1", "transient", "status",
                           status=429, retry_after=1))
    # upload session lost: the blob must be restarted with a new POST
    for target in ("upload PUT", "upload PATCH"):
        cases.append(_case(target, "status 404 (upload unknown)", "nth=1", "transient", "status", status=404))
    # permanent integrity and absence faults on chosen blobs
    for label, digest in (("medium layer", medium_layer_digest), ("big layer", big_layer_digest),
                          ("small layer", small_layer_digest)):
        cases.append(_case(blob, f"status 404 ({label})", "always", "permanent", "status",
                           path=r"/blobs/" + digest, status=404))
    for label, digest, offset in (("medium layer", medium_layer_digest, 10), ("big layer", big_layer_digest, 0),
                                  ("big layer", big_layer_digest, 150_000),
                                  ("big layer", big_layer_digest, 10**9),
                                  ("small layer", small_layer_digest, 100)):
        cases.append(_case(blob, f"corrupt_byte ({label} @ {offset if offset < 10**9 else 'last'})", "always",
                           "permanent", "corrupt_byte", path=r"/blobs/" + digest, offset=offset))
    cases.append(_case(blob, "truncate (big layer)", "always", "permanent", "truncate", path=big))
    cases.append(_case(blob, "reset_mid_body (big layer)", "always", "permanent", "reset_mid_body", path=big))
    cases.append(_case("manifest GET (restore)", "status 401 (no challenge)", "always", "permanent", "status",
                       status=401))
    for target in ("upload PUT", "manifest PUT"):
        cases.append(_case(target, "status 400", "always", "permanent", "status", status=400))
    # corrupted once: a retry may succeed, a clean failure is fine too; wrong bytes never
    for label, digest in (("medium layer", medium_layer_digest), ("big layer", big_layer_digest),
                          ("small layer", small_layer_digest)):
        cases.append(_case(blob, f"corrupt_byte once ({label})", "nth=1", "either", "corrupt_byte",
                           path=r"/blobs/" + digest))
    cases.append(_case("manifest GET (restore)", "corrupt_byte once", "nth=1", "either", "corrupt_byte"))
    cases.append(_case("manifest GET (restore)", "corrupt_byte", "always", "either", "corrupt_byte"))
    return cases
