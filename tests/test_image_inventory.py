"""scans/trivy/inventory.py: what an image tarball holds, read from its layers in order (whiteouts applied)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

from support.gate import REPO_ROOT
from support.trivy_fixtures import build_non_image_tar, python_metadata

INVENTORY = REPO_ROOT / "scans" / "trivy" / "inventory.py"
SITE = "usr/local/lib/python3.12/site-packages"


def tar_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def docker_archive(path: Path, layers: list[dict[str, bytes]]) -> Path:
    """A `docker save` tarball of the given layers, lowest first (no config: the inventory does not read it)."""
    members, names = {}, []
    for files in layers:
        layer = tar_bytes(files)
        name = hashlib.sha256(layer).hexdigest() + "/layer.tar"
        members[name] = layer
        names.append(name)
    members["manifest.json"] = json.dumps([{"Config": "config.json", "Layers": names}]).encode()
    path.write_bytes(tar_bytes(members))
    return path


def oci_archive(path: Path, layers: list[dict[str, bytes]]) -> Path:
    """An OCI image layout tarball (index.json -> manifest -> layer blobs) of the given layers."""
    members, descriptors = {}, []
    for files in layers:
        layer = tar_bytes(files)
        digest = hashlib.sha256(layer).hexdigest()
        members[f"blobs/sha256/{digest}"] = layer
        descriptors.append({"digest": f"sha256:{digest}", "size": len(layer)})
    manifest = json.dumps({"schemaVersion": 2, "layers": descriptors}).encode()
    manifest_digest = hashlib.sha256(manifest).hexdigest()
    members[f"blobs/sha256/{manifest_digest}"] = manifest
    members["index.json"] = json.dumps({"manifests": [{"digest": f"sha256:{manifest_digest}"}]}).encode()
    members["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
    path.write_bytes(tar_bytes(members))
    return path


def inventory(image: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(INVENTORY), str(image)], capture_output=True, text=True,
                          check=False, timeout=60)


BASE = {
    "var/lib/dpkg/status": b"Package: bash\nStatus: install ok installed\nVersion: 5\n\n"
                           b"Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
    f"{SITE}/pip-24.0.dist-info/METADATA": python_metadata("pip", "24.0").encode(),
    f"{SITE}/pip/__init__.py": b"",
    "opt/venv/lib/python3.12/site-packages/old-1.0.dist-info/METADATA": python_metadata("old", "1.0").encode(),
}
TOP = {
    f"{SITE}/.wh.pip-24.0.dist-info": b"",
    "opt/venv/lib/python3.12/site-packages/.wh..wh..opq": b"",
    "opt/venv/lib/python3.12/site-packages/Django-5.2.19.dist-info/METADATA":
        python_metadata("Django", "5.2.19").encode(),
}


def test_a_later_layers_whiteouts_remove_distributions_from_the_inventory(tmp_path):
    for build in (docker_archive, oci_archive):
        done = inventory(build(tmp_path / f"{build.__name__}.tar", [BASE, TOP]))
        assert done.returncode == 0, done.stderr
        listed = json.loads(done.stdout)
        assert listed["dpkg_status"] is True and listed["dpkg_packages"] == 1
        assert listed["python"] == [{"path": "opt/venv/lib/python3.12/site-packages/Django-5.2.19.dist-info/METADATA",
                                     "name": "Django", "version": "5.2.19", "os_package": None}]


def test_without_the_top_layer_everything_of_the_base_is_listed(tmp_path):
    done = inventory(docker_archive(tmp_path / "img.tar", [BASE]))
    assert done.returncode == 0, done.stderr
    assert [p["name"] for p in json.loads(done.stdout)["python"]] == ["old", "pip"]


def test_a_tarball_that_is_not_an_image_is_an_error(tmp_path):
    done = inventory(build_non_image_tar(tmp_path / "img.tar"))
    assert done.returncode == 2 and "not a saved image" in done.stderr
    done = inventory(tmp_path / "missing.tar")
    assert done.returncode == 2 and "cannot read" in done.stderr
