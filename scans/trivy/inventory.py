"""What an image tarball holds that trivy must scan: its OS package inventory and its Python distributions.

Usage: python3 scans/trivy/inventory.py IMAGE_TAR
In: a `docker save` tarball (manifest.json) or an OCI image layout tarball (index.json); layers applied in
    order, whiteouts honoured, so a file a later layer deleted is not in the inventory.
Out (stdout, JSON):
  {"dpkg_status": bool,               var/lib/dpkg/status exists in the final file system
   "dpkg_packages": N,                packages it lists as installed
   "python": [{"path", "name", "version", "os_package"}]}
                                      each *.dist-info/METADATA and *.egg-info/PKG-INFO, with the Debian
                                      package that installed it (from var/lib/dpkg/info/*.list) or null
Exit 0 with the JSON; 2 with a message on stderr when the tarball cannot be read as an image.
"""

from __future__ import annotations

import json
import posixpath
import sys
import tarfile
from typing import IO

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_INFO = "var/lib/dpkg/info/"
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def wanted(path: str) -> bool:
    """The files the inventory reads: dpkg's status and file lists, Python distributions' metadata."""
    return (path == DPKG_STATUS
            or (path.startswith(DPKG_INFO) and path.endswith(".list"))
            or path.endswith(".dist-info/METADATA")
            or path.endswith(".egg-info/PKG-INFO"))


def clean(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")


def remove_tree(files: dict[str, bytes], path: str, keep_self: bool = False) -> None:
    prefix = path + "/"
    for key in [k for k in files if k.startswith(prefix) or (k == path and not keep_self)]:
        del files[key]


def apply_layer(files: dict[str, bytes], layer: IO[bytes]) -> None:
    """Apply one layer tar (any compression) to files, path -> content of the wanted files."""
    with tarfile.open(fileobj=layer, mode="r:*") as tar:
        for entry in tar:
            path = clean(entry.name)
            directory, base = posixpath.split(path)
            if base == OPAQUE:
                remove_tree(files, directory, keep_self=True)
            elif base.startswith(WHITEOUT):
                remove_tree(files, posixpath.join(directory, base[len(WHITEOUT):]))
            elif entry.isdir():
                continue
            else:
                files.pop(path, None)  # a later layer's file replaces the earlier one (or a link stands in)
                if entry.isfile() and wanted(path):
                    handle = tar.extractfile(entry)
                    files[path] = handle.read() if handle else b""


def member(outer: tarfile.TarFile, name: str) -> IO[bytes]:
    """The content of the outer tarball's member NAME (however the tarball spells its path)."""
    wanted_name = clean(name)
    for info in outer.getmembers():
        if clean(info.name) == wanted_name and info.isfile():
            handle = outer.extractfile(info)
            if handle is not None:
                return handle
    raise ValueError(f"{name} is not a file in the image tarball")


def read_json(outer: tarfile.TarFile, name: str):
    return json.load(member(outer, name))


def layer_names(outer: tarfile.TarFile) -> list[str]:
    """The image's layers, lowest first, as member names of the outer tarball."""
    names = {clean(n) for n in outer.getnames()}
    if "manifest.json" in names:
        manifest = read_json(outer, "manifest.json")
        if not isinstance(manifest, list) or len(manifest) != 1:
            raise ValueError("manifest.json does not describe exactly one image")
        return [clean(layer) for layer in manifest[0]["Layers"]]
    if "index.json" in names:
        node = read_json(outer, "index.json")
        while "manifests" in node:  # an index (possibly of indexes): the one image it names
            if len(node["manifests"]) != 1:
                raise ValueError("index.json does not name exactly one image")
            node = read_json(outer, blob(node["manifests"][0]["digest"]))
        return [blob(layer["digest"]) for layer in node["layers"]]
    raise ValueError("the tarball has neither manifest.json nor index.json: it is not a saved image")


def blob(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    return f"blobs/{algorithm}/{value}"


def headers(text: str) -> dict[str, str]:
    """The first value of each header of a core-metadata file (email format, up to the first blank line)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep and not line[0].isspace():
            found.setdefault(key.strip().lower(), value.strip())
    return found


def inventory(files: dict[str, bytes]) -> dict:
    owners: dict[str, str] = {}
    for path, content in files.items():
        if path.startswith(DPKG_INFO) and path.endswith(".list"):
            package = posixpath.basename(path)[: -len(".list")].split(":")[0]
            for line in content.decode("utf-8", "replace").splitlines():
                owners[clean(line)] = package
    status = files.get(DPKG_STATUS)
    installed = 0
    if status is not None:
        for stanza in status.decode("utf-8", "replace").split("\n\n"):
            fields = headers(stanza.strip("\n"))
            if fields.get("status", "").endswith(" installed"):
                installed += 1
    python = []
    for path in sorted(files):
        if path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO")):
            fields = headers(files[path].decode("utf-8", "replace"))
            python.append({"path": path, "name": fields.get("name"), "version": fields.get("version"),
                           "os_package": owners.get(path)})
    return {"dpkg_status": status is not None, "dpkg_packages": installed, "python": python}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: inventory.py IMAGE_TAR", file=sys.stderr)
        return 2
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(argv[1], mode="r:*") as outer:
            for name in layer_names(outer):
                apply_layer(files, member(outer, name))
    except (OSError, tarfile.TarError, ValueError, KeyError, TypeError, EOFError) as exc:
        print(f"cannot read {argv[1]} as an image: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(inventory(files)))
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
