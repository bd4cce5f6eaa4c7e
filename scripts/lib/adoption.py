"""The adopted secrets' fingerprint (.security-secrets-adopted.json, README "Adopting the gate on an old repository").

A secret engine's adapter calls fingerprint(sha1_hex) with the SHA-1 of a secret's value (detect-secrets'
hashed_secret; kingfisher's adapter computes the same) while that value is still only in the scan's temporary
folder. The answer is what the adoption file records for the secret and what the gate matches its entries on
(jq/gate.jq): "scrypt:" + 32 hex digits of scrypt(SHA-1 hex, the file's salt, N=2**11, r=8, p=1), a deliberately
slow and memory-hard hash (about 4 ms and 2 MiB a secret on one core; the adapters compute it once per distinct
secret and only when there is an adoption file), keyed by the random salt stored in the file. The per-run key
(scripts/lib/cache.py run_key) cannot serve: it changes every run, and a stored fingerprint must be the same in the
next one. What a committed fingerprint tells someone who reads the file: nothing about a secret the history
already holds (that reader can read the value itself); for a secret of the tree only, a way to test guesses, one
scrypt per guess per salt (no precomputed table works across repositories): hence the slow hash, and why a tree
secret belongs rotated or in .secrets.baseline rather than adopted.

Stdlib only (importable with python3 -S). SECURITY_SECRETS_ADOPTED names the file (scripts/lib/common.sh sets it;
SECURITY_SECRETS_ADOPTING, set by scripts/secrets-baseline.sh only, names the file to read instead);
no file, or a file this module cannot read a salt from, gives no fingerprint (None): the gate then validates the
file itself (jq/adopted.jq) and a malformed one is the scan's error.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

VARIABLE = "SECURITY_SECRETS_ADOPTED"
ADOPTING = "SECURITY_SECRETS_ADOPTING"  # make secrets-baseline's file with the salt and no entry, read instead
KDF = "scrypt-n2048-r8-p1"  # what the file's "kdf" names; jq/adopted.jq accepts only this
PREFIX = "scrypt:"
_SALT = re.compile(r"^[0-9a-f]{32}$")


class Adoption:
    """The adoption file's salt (or None), and the fingerprints computed so far (one scrypt per distinct secret)."""

    def __init__(self, path: str | None = None) -> None:
        self.salt: bytes | None = None
        self.memo: dict[str, str] = {}
        path = (os.environ.get(ADOPTING, "") or os.environ.get(VARIABLE, "")) if path is None else path
        if not path:
            return
        try:
            with open(path, encoding="utf-8") as f:
                data: Any = json.load(f)
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and data.get("kdf") == KDF and isinstance(data.get("salt"), str) \
                and _SALT.match(data["salt"]):
            self.salt = bytes.fromhex(data["salt"])

    def fingerprint(self, sha1_hex: str) -> str | None:
        """The adoption fingerprint of the secret whose value has this SHA-1 (hex), or None without a salt."""
        if self.salt is None:
            return None
        if sha1_hex not in self.memo:
            self.memo[sha1_hex] = PREFIX + hashlib.scrypt(sha1_hex.encode(), salt=self.salt, n=2048, r=8, p=1,
                                                          maxmem=16 * 1024 * 1024, dklen=16).hex()
        return self.memo[sha1_hex]


_CURRENT: Adoption | None = None


def current() -> Adoption:
    """This process's Adoption (SECURITY_SECRETS_ADOPTED's file), read once."""
    global _CURRENT
    if _CURRENT is None:
        _CURRENT = Adoption()
    return _CURRENT


def new_salt() -> str:
    """A fresh salt for a new adoption file (32 hex digits)."""
    return os.urandom(16).hex()


if __name__ == "__main__":
    print(new_salt())
