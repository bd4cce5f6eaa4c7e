"""Summary: the inventory pip-audit must audit: every pinned (name, version), and the sources no service can audit.
Usage: PIP_AUDIT_PYTHON scans/pip-audit/inventory.py OUT_DIR CANARY lock
       PIP_AUDIT_PYTHON scans/pip-audit/inventory.py OUT_DIR CANARY requirements FILE...

Run in the project folder, with the interpreter that runs pip-audit (it has `packaging` and
`pip-requirements-parser`, the parsers pip-audit itself uses; uv.lock is read with tomllib).

- lock: every [[package]] of uv.lock, every fork (a package locked at two versions behind markers) included;
  markers are ignored, so every platform's pins are audited. The project itself (the workspace members) is
  excluded by rule; a package from git, a URL or a local path is not auditable.
- requirements: every pin of FILE... and of the files they include with -r/-c, followed here; markers are
  ignored. A constraint's pin counts where it pins a requirement. An editable, URL or path requirement is not
  auditable. A FILE that requires nothing is an error, as is a requirement pinned to no exact version.

CANARY is NAME==VERSION, a release with long-published advisories, audited alongside the inventory.
Writes OUT_DIR/audit-N.txt, flat `name==version` files that each name a package once (one per fork; pip-audit
refuses two versions of a name in one run), the canary in one of them; the gaps (the sources no service can audit)
and the exclusions as JSON lines in OUT_DIR/inventory-gaps.jsonl and OUT_DIR/inventory-excluded.jsonl; and prints
a JSON object:
  {"source": "uv.lock" | "requirements", "packages": [{"name", "version", "file"}],
   "not_auditable": [{"name", "source", "file"}], "excluded": [{"item", "rule"}],
   "canary": {"name", "version", "in_inventory"}, "batches": ["audit-1.txt", ...]}
Exits 0, or 2 with the reason on stderr.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from pip_requirements_parser import InstallRequirement

LOCK = "uv.lock"
LOCK_VERSIONS = (1,)  # uv.lock format versions this reader knows
LOCAL_SOURCES = ("path", "directory", "editable", "virtual")


class InventoryError(Exception):
    """Why the inventory cannot be computed (the scan is an error)."""


def version_text(version: str, where: str) -> str:
    """A version as pip-audit reports it (PEP 440 normalized)."""
    try:
        return str(Version(version))
    except InvalidVersion:
        raise InventoryError(f"{where}: '{version}' is not a valid version") from None


def redact(url: str) -> str:
    """url without the user and password it may carry."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


# --- uv.lock ----------------------------------------------------------------------------------------------


def read_lock() -> dict[str, Any]:
    """uv.lock, parsed and checked for the shape this reader relies on."""
    try:
        with open(LOCK, "rb") as f:
            lock = tomllib.load(f)
    except OSError as error:
        raise InventoryError(f"cannot read {LOCK}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InventoryError(f"{LOCK} is not valid TOML: {error}") from None
    if not lock:
        raise InventoryError(f"{LOCK} is empty")
    if lock.get("version") not in LOCK_VERSIONS:
        raise InventoryError(
            f"{LOCK} has format version {lock.get('version')!r}; this gate reads version(s) {LOCK_VERSIONS}"
        )
    packages = lock.get("package")
    if not isinstance(packages, list) or not packages:
        raise InventoryError(f"{LOCK} lists no packages")
    for package in packages:
        if not (isinstance(package, dict) and isinstance(package.get("name"), str)
                and isinstance(package.get("source"), dict) and len(package["source"]) == 1):
            raise InventoryError(f"{LOCK} has a [[package]] without a name or a single source: {package!r:.120}")
    return lock


def lock_members(lock: dict[str, Any]) -> set[str]:
    """The workspace's own packages: [manifest] members, or the project at '.' when there is no manifest."""
    members = lock.get("manifest", {}).get("members")
    if isinstance(members, list):
        return {canonicalize_name(m) for m in members}
    return {
        canonicalize_name(p["name"]) for p in lock["package"]
        if any(p["source"].get(kind) == "." for kind in ("editable", "virtual"))
    }


def lock_inventory(inventory: dict[str, Any]) -> None:
    """Fill inventory from uv.lock."""
    lock = read_lock()
    members = lock_members(lock)
    for package in lock["package"]:
        name = canonicalize_name(package["name"])
        ((kind, where),) = package["source"].items()
        if kind in ("editable", "virtual") and name in members:
            inventory["excluded"].append({
                "item": f"{name} {package.get('version', '')}".strip(),
                "rule": f"the project itself (uv workspace member, source {kind} = {where})",
            })
        elif kind == "registry":
            if not isinstance(package.get("version"), str):
                raise InventoryError(f"{LOCK}: {name} from a registry has no version")
            add_pin(inventory, name, version_text(package["version"], f"{LOCK}: {name}"), LOCK)
        else:
            source = f"{kind} {redact(where) if kind in ('git', 'url') else where}"
            inventory["not_auditable"].append({"name": name, "source": source, "file": LOCK})


# --- requirements files ------------------------------------------------------------------------------------


class RequirementsWalk:
    """The requirements and constraints of some requirements files, nested -r/-c files followed."""

    def __init__(self) -> None:
        self.requirements: list[InstallRequirement] = []
        self.constraints: list[InstallRequirement] = []
        self.seen: set[tuple[str, bool]] = set()

    def walk(self, path: str, is_constraint: bool, included_from: str | None) -> int:
        """Parse path and what it includes; how many requirements (not constraints) they hold."""
        # Imported here: it takes longer to import than a whole uv.lock takes to read.
        from pip_requirements_parser import CommentRequirementLine, InvalidRequirementLine, OptionLine, RequirementsFile

        if urllib.parse.urlsplit(path).scheme in ("http", "https", "file"):
            raise InventoryError(f"{included_from}: the included file {path} is a URL; include a local file")
        key = (os.path.realpath(path), is_constraint)
        if key in self.seen:
            return 0
        self.seen.add(key)
        if not os.path.isfile(path):
            origin = f" (included from {included_from})" if included_from else ""
            raise InventoryError(f"requirements file {path}{origin} not found")
        count = 0
        try:
            lines = list(RequirementsFile.parse(filename=path, include_nested=False, is_constraint=is_constraint))
        except Exception as error:  # the parser raises pip's own exception types
            raise InventoryError(f"cannot parse {path}: {error}") from None
        for line in lines:
            if isinstance(line, InvalidRequirementLine):
                where = f"{path}:{line.requirement_line.line_number}"
                raise InventoryError(f"{where}: {line.error_message}: {line.requirement_line.line.strip()}")
            if isinstance(line, CommentRequirementLine):
                continue
            if isinstance(line, OptionLine):
                where = f"{path}:{line.requirement_line.line_number}"
                base = os.path.dirname(path)
                for nested in line.options.get("requirements", []):
                    count += self.walk(os.path.normpath(os.path.join(base, nested)), is_constraint, where)
                for nested in line.options.get("constraints", []):
                    self.walk(os.path.normpath(os.path.join(base, nested)), True, where)
                continue
            (self.constraints if is_constraint else self.requirements).append(line)
            count += 0 if is_constraint else 1
        return count


def where_of(req: InstallRequirement) -> str:
    return f"{req.requirement_line.filename}:{req.requirement_line.line_number}"


def exact_pin(req: InstallRequirement) -> str | None:
    """The one version req pins with == or ===, or None."""
    if req.req is None:
        return None
    specs = list(req.req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or specs[0].version.endswith(".*"):
        return None
    return version_text(specs[0].version, where_of(req))


def requirements_inventory(inventory: dict[str, Any], files: list[str]) -> None:
    """Fill inventory from requirements files."""
    walk = RequirementsWalk()
    for path in files:
        if walk.walk(os.path.normpath(path), False, None) == 0:
            raise InventoryError(f"{path} requires nothing (no pin in it nor in the files it includes with -r)")
    constraint_pins: dict[str, list[tuple[str, str]]] = {}
    for req in walk.constraints:
        version = exact_pin(req)
        if req.name and version:
            constraint_pins.setdefault(canonicalize_name(req.name), []).append((version, req.requirement_line.filename))
    for req in walk.requirements:
        if req.link is not None or req.is_editable:
            link = str(req.link) if req.link is not None else req.requirement_line.line.strip()
            source = f"{'editable ' if req.is_editable else ''}{redact(link)}"
            name = canonicalize_name(req.name) if req.name else redact(link)
            inventory["not_auditable"].append({"name": name, "source": source, "file": req.requirement_line.filename})
            continue
        if not req.name:
            raise InventoryError(f"{where_of(req)}: a requirement without a name: {req.requirement_line.line.strip()}")
        name = canonicalize_name(req.name)
        pins = list(constraint_pins.get(name, []))
        own = exact_pin(req)
        if own:
            pins.append((own, req.requirement_line.filename))
        if not pins:
            raise InventoryError(
                f"{where_of(req)}: {req.name} is not pinned to one version (name==version, here or in a -c file)"
            )
        for version, file in pins:
            add_pin(inventory, name, version, file)


# --- the audit files ----------------------------------------------------------------------------------------


def add_pin(inventory: dict[str, Any], name: str, version: str, file: str) -> None:
    """Add (name, version) to the inventory once, with the first file that pins it."""
    if not any(p["name"] == name and p["version"] == version for p in inventory["packages"]):
        inventory["packages"].append({"name": name, "version": version, "file": file})


def parse_canary(text: str) -> dict[str, Any]:
    """CANARY (NAME==VERSION) as {"name", "version"}."""
    try:
        req = Requirement(text)
    except InvalidRequirement:
        req = None
    specs = list(req.specifier) if req else []
    if not req or req.url or req.marker or req.extras or len(specs) != 1 or specs[0].operator != "==":
        raise InventoryError(f"the canary must be NAME==VERSION (PIP_AUDIT_CANARY), not '{text}'")
    return {"name": canonicalize_name(req.name), "version": version_text(specs[0].version, "the canary")}


def batches(inventory: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """The inventory in as few lists as can each hold a name once: the k-th version of each name in list k.

    The canary joins the first list without its name (or a list of its own), unless it is in the inventory."""
    versions: dict[str, list[str]] = {}
    for p in inventory["packages"]:
        versions.setdefault(p["name"], []).append(p["version"])
    lists: list[list[tuple[str, str]]] = []
    for name in sorted(versions):
        for k, version in enumerate(sorted(versions[name], key=Version)):
            if k == len(lists):
                lists.append([])
            lists[k].append((name, version))
    canary = inventory["canary"]
    if not canary["in_inventory"]:
        target = next((b for b in lists if all(n != canary["name"] for n, _ in b)), None)
        if target is None:
            target = []
            lists.append(target)
        target.append((canary["name"], canary["version"]))
    return lists


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[3] not in ("lock", "requirements") or (argv[3] == "requirements") != (len(argv) > 4):
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    out_dir, canary_text, mode, files = Path(argv[1]), argv[2], argv[3], argv[4:]
    inventory: dict[str, Any] = {
        "source": LOCK if mode == "lock" else "requirements",
        "packages": [], "not_auditable": [], "excluded": [], "canary": None, "batches": [],
    }
    try:
        canary = parse_canary(canary_text)
        if mode == "lock":
            lock_inventory(inventory)
        else:
            requirements_inventory(inventory, files)
        if not inventory["packages"] and not inventory["not_auditable"]:
            raise InventoryError(f"{inventory['source']} pins no dependencies")
    except InventoryError as error:
        print(error, file=sys.stderr)
        return 2
    inventory["packages"].sort(key=lambda p: (p["name"], Version(p["version"])))
    canary["in_inventory"] = any(
        p["name"] == canary["name"] and p["version"] == canary["version"] for p in inventory["packages"]
    )
    inventory["canary"] = canary
    for k, pins in enumerate(batches(inventory), start=1):
        name = f"audit-{k}.txt"
        (out_dir / name).write_text("".join(f"{n}=={v}\n" for n, v in pins))
        inventory["batches"].append(name)
    # The coverage the gate records, as JSON lines (scan_gaps_from, scan_excluded_from): no jq run per item.
    (out_dir / "inventory-gaps.jsonl").write_text("".join(
        json.dumps({"id": f"not-auditable:{p['name']}",
                    "message": f"{p['name']} ({p['source']}, in {p['file']}) is not from a package index: "
                               "no vulnerability service can audit it"}) + "\n"
        for p in inventory["not_auditable"]))
    (out_dir / "inventory-excluded.jsonl").write_text(
        "".join(json.dumps({"item": e["item"], "rule": e["rule"]}) + "\n" for e in inventory["excluded"]))
    json.dump(inventory, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
