"""Summary: prove that detect-secrets' plugins fire, with the scan's own settings, on a canary of known-format tokens.
Usage: python3 -S scans/detect-secrets/canary.py --work DIR [--baseline FILE] [--timeout SECONDS] -- COMMAND...
       (scans/detect-secrets/run.sh runs it in the background beside the scan)

Writes one small file per plugin class (CANARY), each a token in the format that plugin knows, assembled here from a
prefix and random characters (none is stored anywhere), into DIR/files under a number; runs COMMAND (detect-secrets'
command line as the scan runs it, up to the files: batched-pool.py and widen.py included, with --chdir DIR/files)
with --baseline DIR/baseline.json (FILE, the committed or staged baseline, with its results emptied: the same
plugins_used and filters_used) or with none, and the numbers as its files. The canary is never a finding, never in
the scan's report, never coverage: it is read in its own folder, by its own run.

Checks, from the report detect-secrets wrote (its plugins_used: what the run actually enabled):
- every class of CANARY is enabled: a plugin CANARY knows that the run did not enable (removed from the baseline's
  plugins_used) is an error naming it;
- every enabled plugin CANARY knows found its canary file: one that did not (a limit too high, a filter that drops
  it, a plugin that failed to load) is an error naming it;
- an enabled plugin CANARY does not know (a custom plugin of the baseline) cannot be proven: a coverage gap naming it.
Writes DIR/problems (an error a line, at most two: the classes not enabled, the classes missed; each naming
detect-secrets and the classes) and DIR/gaps.jsonl; the run's report and the files stay in DIR (the scan's temporary
folder). A TERM stops the run's detect-secrets too. Exit 0 checked (problems or not), 2 when the canary could not be
run (the message on stderr).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import string
import subprocess
import sys

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
UNWRITTEN = "not-written-by-the-canary-run"


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def jwt() -> str:
    head, body = b64url({"alg": "HS256", "typ": "JWT"}), b64url({"sub": rand(12), "iat": 1700000000})
    return f"TOKEN = '{head}.{body}.{rand(43, URLSAFE)}'\n"


def private_key() -> str:
    kind = "RSA " + "PRIVATE KEY"  # split: this file holds no key header
    body = "\n".join(rand(64, B64) for _ in range(8))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


# The canary: (plugin class name, its secret type as detect-secrets reports it, a maker of the file's text). One
# entry per plugin of the pinned detect-secrets (1.5.0); a plugin it gains that is enabled and has no entry here is a
# gap until one is added.
# IPPublicDetector has none: an IPv4 address has no letter, and detect-secrets' own default filter
# is_not_alphanumeric_string drops every such string, so that plugin never reports anything with the default filters
# (and a public address is no credential): it is neither required nor a gap (UNPROVABLE).
UNPROVABLE = ("IPPublicDetector",)
CANARY = (
    ("ArtifactoryDetector", "Artifactory Credentials", lambda: f'ARTIFACTORY = "AKC{rand(60)}"\n'),
    ("AWSKeyDetector", "AWS Access Key", lambda: f"AWS_KEY = 'AKIA{rand(16, UPPER_ALNUM)}'\n"),
    ("AzureStorageKeyDetector", "Azure Storage Account access key",
     lambda: f"CONN = 'DefaultEndpointsProtocol=https;AccountName=c{rand(8, LOWER_ALNUM)};AccountKey={rand(86, B64)}=='\n"),
    ("Base64HighEntropyString", "Base64 High Entropy String", lambda: f'BLOB = "{rand(64, B64)}"\n'),
    ("BasicAuthDetector", "Basic Auth Credentials",
     lambda: f"URL = 'https://deploy:{rand(20)}@db.example.invalid/app'\n"),
    ("CloudantDetector", "Cloudant Credentials", lambda: f'cloudant_password = "{rand(64, HEX)}"\n'),
    ("DiscordBotTokenDetector", "Discord Bot Token",
     lambda: f"BOT = 'M{rand(23, URLSAFE)}.{rand(6, URLSAFE)}.{rand(27, URLSAFE)}'\n"),
    ("GitHubTokenDetector", "GitHub Token", lambda: f"GH = 'ghp_{rand(36)}'\n"),
    ("GitLabTokenDetector", "GitLab Token", lambda: f"GL = 'glpat-{rand(20)}'\n"),
    ("HexHighEntropyString", "Hex High Entropy String", lambda: f'DIGEST = "{rand(48, HEX)}"\n'),
    ("IbmCloudIamDetector", "IBM Cloud IAM Key", lambda: f'ibm_cloud_iam_api_key = "{rand(44, URLSAFE)}"\n'),
    ("IbmCosHmacDetector", "IBM COS HMAC Credentials", lambda: f'secret_access_key = "{rand(48, HEX)}"\n'),
    ("JwtTokenDetector", "JSON Web Token", jwt),
    ("KeywordDetector", "Secret Keyword", lambda: f'db_password = "{rand(20)}"\n'),
    ("MailchimpDetector", "Mailchimp Access Key", lambda: f"MC = '{rand(32, LOWER_ALNUM)}-us{rand(1, '123456789')}'\n"),
    ("NpmDetector", "NPM tokens", lambda: "//npm.example.invalid/:_auth" + f"Token=npm_{rand(36)}\n"),
    ("OpenAIDetector", "OpenAI Token", lambda: f"OA = 'sk-{rand(20)}T3BlbkFJ{rand(20)}'\n"),
    ("PrivateKeyDetector", "Private Key", private_key),
    ("PypiTokenDetector", "PyPI Token", lambda: f"PYPI = 'pypi-AgEIcHlwaS5vcmc{rand(80, URLSAFE)}'\n"),
    ("SendGridDetector", "SendGrid API Key", lambda: f"SG = 'SG.{rand(22, URLSAFE)}.{rand(43, URLSAFE)}'\n"),
    ("SlackDetector", "Slack Token",
     lambda: f"SLACK = 'xoxb-{rand(12, string.digits)}-{rand(12, string.digits)}-{rand(24, LOWER_ALNUM)}'\n"),
    ("SoftlayerDetector", "SoftLayer Credentials", lambda: f'softlayer_api_key = "{rand(64, LOWER_ALNUM)}"\n'),
    ("SquareOAuthDetector", "Square OAuth Secret", lambda: f"SQ = 'sq0csp-{rand(43, URLSAFE)}'\n"),
    ("StripeDetector", "Stripe Access Key", lambda: f"STRIPE = 'sk_live_{rand(24)}'\n"),
    ("TelegramBotTokenDetector", "Telegram Bot Token",
     lambda: f"TG = '{rand(9, string.digits)}:{rand(35, URLSAFE)}'\n"),
    ("TwilioKeyDetector", "Twilio API Key", lambda: f"TWILIO = 'SK{rand(32, LOWER_ALNUM)}'\n"),
)


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(2)


def parse(argv: list[str]) -> tuple[str, str, float | None, list[str]]:
    work, baseline, timeout = "", "", None
    while argv and argv[0] != "--":
        if argv[0] in ("--work", "--baseline", "--timeout") and len(argv) >= 2:
            work, baseline, timeout = (argv[1], baseline, timeout) if argv[0] == "--work" else \
                (work, argv[1], timeout) if argv[0] == "--baseline" else (work, baseline, float(argv[1]))
            argv = argv[2:]
        else:
            fail(f"canary.py: unknown argument {argv[0]!r}")
    if not work or len(argv) < 2:
        fail("usage: canary.py --work DIR [--baseline FILE] [--timeout SECONDS] -- COMMAND...")
    return work, baseline, timeout, argv[1:]


def run(command: list[str], out: str, err: str, timeout: float | None) -> int:
    """COMMAND in its own process group (a timeout stops its pool too); its exit status."""
    child: list[int] = []

    def stop(signum, _frame):  # the scan stops its helpers with TERM: the tool and its pool stop with this one
        for pid in child:
            os.killpg(pid, signal.SIGKILL)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, start_new_session=True)
        child.append(proc.pid)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            fail(f"detect-secrets did not finish its canary within {timeout:.0f} s")
    return 2


def tail(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return " ".join(f.read().split())[-400:]


def main(argv: list[str]) -> None:
    work, baseline, timeout, command = parse(argv)
    files = os.path.join(work, "files")
    os.makedirs(files, exist_ok=True)
    for n, (_, _, make) in enumerate(CANARY):
        with open(os.path.join(files, str(n)), "w", encoding="utf-8") as f:
            f.write(make())
    report, err = os.path.join(work, "report.json"), os.path.join(work, "detect-secrets.err")
    if baseline:
        try:
            with open(baseline, encoding="utf-8") as f:
                settings = json.load(f)
            settings.update(results={}, generated_at=UNWRITTEN)
        except (OSError, ValueError, AttributeError) as exc:
            fail(f"cannot read the baseline's settings for the canary: {exc}")
        with open(report, "w", encoding="utf-8") as f:
            json.dump(settings, f)
        command = command + ["--baseline", os.path.abspath(report)]
    out = os.devnull if baseline else report
    rc = run(command + ["--", *(str(n) for n in range(len(CANARY)))], out, err, timeout)
    if rc != 0:
        fail(f"detect-secrets exited {rc} on its canary: {tail(err)}")
    try:
        with open(report, encoding="utf-8") as f:
            found = json.load(f)
        enabled = {p["name"] for p in found["plugins_used"]}
        results = found["results"]
        if found.get("generated_at") == UNWRITTEN or not isinstance(results, dict):
            raise ValueError("no report written")
        types = {name: {r["type"] for r in results.get(name, [])} for name in map(str, range(len(CANARY)))}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        fail(f"detect-secrets' report on its canary cannot be read: {exc}")
    off = [f"{plugin} ({secret_type})" for plugin, secret_type, _ in CANARY if plugin not in enabled]
    missed = [f"{plugin} ({secret_type})" for n, (plugin, secret_type, _) in enumerate(CANARY)
              if plugin in enabled and secret_type not in types[str(n)]]
    known = {plugin for plugin, _, _ in CANARY}
    problems = []
    if off:
        problems.append(f"detect-secrets' canary {', '.join(off)}: "
                        + ("the plugin is" if len(off) == 1 else "these plugins are")
                        + " not enabled (removed from .secrets.baseline's plugins_used?), so no secret of "
                        + ("that class" if len(off) == 1 else "those classes") + " can be found; put "
                        + ("it" if len(off) == 1 else "them") + " back")
    if missed:
        problems.append(f"detect-secrets missed its canary {', '.join(missed)}: "
                        + ("the plugin is" if len(missed) == 1 else "these plugins are")
                        + " enabled but did not fire on a token of "
                        + ("that class" if len(missed) == 1 else "those classes")
                        + " (their settings or a filter of .secrets.baseline stop them)")
    gaps = [{"id": f"unverified:detect-secrets-canary:{name}",
             "message": f"detect-secrets' plugin {name} has no canary (scans/detect-secrets/canary.py), so the gate "
                        "cannot show that it fires"} for name in sorted(enabled - known - set(UNPROVABLE))]
    with open(os.path.join(work, "problems"), "w", encoding="utf-8") as f:
        f.writelines(p + "\n" for p in problems)
    with open(os.path.join(work, "gaps.jsonl"), "w", encoding="utf-8") as f:
        f.writelines(json.dumps(g) + "\n" for g in gaps)


if __name__ == "__main__":
    main(sys.argv[1:])
