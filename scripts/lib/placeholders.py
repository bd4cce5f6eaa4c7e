"""Summary: what a secret engine reports that is no secret: documented placeholders and lock-file digests (issue 29).
Usage: from placeholders import is_placeholder, is_digest_line
       (scans/kingfisher/adapter.py on kingfisher's findings; scans/detect-secrets/widen.py inside detect-secrets)

is_placeholder(value): the value an engine matched is an example, not a key:
- a value the providers document as their example (AWS's example key pair, Stripe's test key; EXAMPLES);
- runs of one character after the provider's prefix: sk_live_xxxxxxxx..., ghp_0000..., AKIA and 16 X,
  xoxb- and zeros, ******** (at least 12 letters and digits after the prefix, 60 % of them in runs of 4 or
  more of one character: a random token of that length has none);
- a template that a deployment fills in: YOUR_API_KEY, your-token-here, <api-key>, ${API_KEY}, {{ api_key }},
  $(cat key), %(password)s; a value holding ${...} or {{...}} (postgres://app:${DB_PASSWORD}@db/app);
- a word that says so: changeme, change-me, replace_me, placeholder, redacted, dummy, notasecret, ... (WORDS: the
  value's letters and digits, lower case, without a provider's prefix; "changeme123" is one too), and password,
  secret, token alone (BARE: the user:password@host examples of documentation; Password1! is no placeholder);
- a field's name that a keyword rule took for its value: password1, usable_password (lower-case words joined by "_",
  one of them NAMES).
is_digest_line(path, line): the line an engine matched is a checksum, which no credential is:
- sha256:/sha512:/--hash= digests, "sha256": "..." and sha256 = "..." keys, npm's integrity "sha512-...", a go.sum
  line, anywhere (a lock file, requirements.txt with --require-hashes, a Dockerfile's FROM x@sha256:...);
- in pylock.toml, Pipfile.lock, poetry.lock, package-lock.json, yarn.lock, uv.lock: a bare 40 to 128 hex value;
- `rev: <40 hex>` in .pre-commit-config.yaml, and `uses: owner/action@<40 hex>` (a commit pin);
unless the line also holds credentials in a URL (a user and a token before its host), which a digest beside them does not excuse.
Neither function prints or keeps the value; the callers count what they drop.
"""

from __future__ import annotations

import os
import re

# The providers' own documented example values (never a live credential).
AWS_EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # pragma: allowlist secret  (AWS's documentation, everywhere)
AWS_EXAMPLE_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # pragma: allowlist secret
EXAMPLES = frozenset({
    AWS_EXAMPLE_KEY_ID,
    AWS_EXAMPLE_SECRET_KEY,
    "AKIAI44QH8DHBEXAMPLE",  # pragma: allowlist secret  (AWS's second documented pair)
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",  # pragma: allowlist secret
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",  # pragma: allowlist secret  (Stripe's documented test key)
})
# Words that say the value is to be replaced (compared on the value's lower-case letters and digits).
WORDS = ("changeme", "changethis", "replaceme", "replacethis", "placeholder", "redacted", "dummy", "notasecret",
         "notarealkey", "notreal", "fakekey", "faketoken", "fakesecret", "example", "sample", "insertkeyhere",
         "inserttokenhere", "yourkeyhere", "xxx", "todo", "fixme", "secretgoeshere", "tokengoeshere")
# Words that are a placeholder alone (user:password@host), never with more after them (Password1! is a password).
BARE = ("password", "passwd", "pass", "pwd", "secret", "token", "apikey", "djangoinsecure")
# A field's name, not its value: lower-case words joined by "_", one of them NAMES, digits at most after it
# (password1, usable_password, api_key_field: Django's forms name their fields so).
NAMES = ("password", "passwd", "secret", "token", "key", "apikey")
FIELD_NAME = re.compile(r"^[a-z]+(?:_[a-z]+)*[0-9]?$")
PREFIX = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]{0,9}[_-])+")  # sk_live_, ghp_, xoxb-, dop_v1_, shpat_
TEMPLATE = re.compile(
    r"""^(?:<[^<>]+>|\$\{[^}]*\}|\{\{.*\}\}|\$\([^)]*\)|%\([A-Za-z_]+\)s|\$[A-Z_][A-Z0-9_]*)$"""
    r"""|\$\{[^}]*\}|\{\{[^}]*\}\}""")
YOUR = re.compile(r"^(?:[A-Za-z0-9]{0,10}[_-])?(?:(?:your|YOUR|Your)[_-][A-Za-z0-9_-]+|your[a-z0-9]+|YOUR[A-Z0-9]+)$")
QUOTES = "\"'` \t"

HEX = r"[0-9a-fA-F]"
DIGEST = re.compile(
    r"--hash[=\s]+(?:sha1|sha224|sha256|sha384|sha512|md5):" + HEX + r"{32,}"
    r"|\b(?:sha1|sha224|sha256|sha384|sha512|md5)[:=]" + HEX + r"{32,}\b"
    r"""|\b(?:sha1|sha224|sha256|sha384|sha512|md5|blake2b_256)["']?\s*[:=]\s*["']""" + HEX + r"{32,}"
    r"|\bsha(?:256|384|512)-[A-Za-z0-9+/]{40,}={0,2}"
    r"|\bh1:[A-Za-z0-9+/]{43}="
    r"|\buses:\s*[\w./-]+@" + HEX + r"{40}\b",
    re.IGNORECASE)
BARE_HEX = re.compile(r"""(?:[:=]\s*|^\s*-?\s*)["']?""" + HEX + r"""{40,128}["']?\s*,?\s*$""")
LOCK_FILES = frozenset({"pylock.toml", "Pipfile.lock", "poetry.lock", "package-lock.json", "yarn.lock", "uv.lock",
                        "pdm.lock", "Cargo.lock", "composer.lock", "go.sum"})
PYLOCK = re.compile(r"^pylock\.[^/]+\.toml$")
REV_PIN = re.compile(r"""^\s*-?\s*rev:\s*["']?""" + HEX + r"""{40}["']?\s*(?:#.*)?$""")
URL_CREDENTIALS = re.compile(r"://[^/\s:@\"']+:[^/\s@\"']+@")


def is_placeholder(value: str) -> bool:
    """Whether the matched value is a documented example, a template or an obvious stand-in (see the Summary)."""
    v = value.strip(QUOTES)
    if not v:
        return True
    if v in EXAMPLES or any(e in v for e in EXAMPLES):
        return True
    if TEMPLATE.search(v) or YOUR.match(v) or is_field_name(v):
        return True
    if len(v) >= 4 and len(set(v)) == 1:
        return True
    body = PREFIX.sub("", v) or v
    alnum = "".join(c.lower() for c in body if c.isalnum())
    if len(body) >= 4 and len(set(body)) == 1:
        return True
    runs = sum(len(m.group(0)) for m in re.finditer(r"(.)\1{3,}", alnum))
    if len(alnum) >= 12 and runs >= 0.6 * len(alnum):
        return True
    # The word after a provider's prefix (sk_live_changeme), not after words (correct-horse-battery-staple-example).
    texts = (v, body) if len(v) - len(body) <= 10 else (v,)
    return any(is_word("".join(c.lower() for c in text if c.isalnum())) for text in texts)


def is_word(word: str) -> bool:
    """Whether letters and digits (lower case) are one of WORDS, or one followed by digits (changeme123)."""
    return word in BARE or any(word == w or (word.startswith(w) and len(w) >= 6 and word[len(w):].isdigit())
                               for w in WORDS)


def is_field_name(value: str) -> bool:
    """Whether the value is a field's name (usable_password, password2), which a keyword rule takes for its value."""
    return bool(FIELD_NAME.match(value)) and any(w.rstrip("0123456789") in NAMES for w in value.split("_"))


def is_digest_line(path: str, line: str) -> bool:
    """Whether the line (of the file at path) an engine matched is a checksum or a commit pin (see the Summary)."""
    if URL_CREDENTIALS.search(line):
        return False
    name = os.path.basename(path or "")
    if DIGEST.search(line):
        return True
    if (name in LOCK_FILES or PYLOCK.match(name)) and BARE_HEX.search(line):
        return True
    return name in (".pre-commit-config.yaml", ".pre-commit-config.yml") and bool(REV_PIN.match(line))
