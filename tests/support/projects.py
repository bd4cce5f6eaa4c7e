"""Builders for fixture project trees (in a pytest tmp_path), used by the gate tests.

    write_tree(root, {"app/x.py": "...", "bin/blob": b"..."})   files from a dict
    git_commit_all(root)                                       git init + add + commit, no global config
    write_uv_project(root, [("django", "4.2.0")])              pyproject.toml + a handwritten uv.lock
    write_uv_project(root, pins, forks={"django": [("3.2.19", "sys_platform == 'win32'"), ...]})
                                                               ... with a package locked at two versions
    write_uv_project(root, pins, local={"mylib": "directory = \"../mylib\""})  ... and a non-registry source
    copy_repo_lock(root)                                       this repository's pyproject.toml + uv.lock (+ suppressions)
    uv_export(root)                                            `uv export` of root's lock, offline

The handwritten uv.lock is lock format version 1 with registry sources and sdist/wheel entries, so that
`uv export --frozen --format requirements-txt --no-emit-project --all-groups` accepts it with UV_OFFLINE=1
and emits `name==version --hash=sha256:...` lines. Nothing is ever downloaded from it: the hashes are the
sha256 of a placeholder string and the URLs point at files that do not exist.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_PROJECT = "fixture-project"
REGISTRY = "https://pypi.org/simple"

Pin = tuple[str, str]


def canonical_name(name: str) -> str:
    """PEP 503 normalized name, as uv.lock and OSV queries spell it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write files (relative path -> text or bytes) under root, creating folders. Returns root."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def git_env() -> dict[str, str]:
    """Environment for git that ignores the user's and the system's config."""
    env = dict(os.environ)
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_DATE="2026-01-01T00:00:00Z",
        GIT_COMMITTER_DATE="2026-01-01T00:00:00Z",
    )
    return env


def git(root: Path, *args: str) -> str:
    """Run git in root as the fixture user; its stdout. CalledProcessError on failure."""
    cmd = [
        "git", "-c", "user.name=Fixture", "-c", "user.email=fixture@example.invalid",
        "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null",
        *args,
    ]
    proc = subprocess.run(cmd, cwd=root, env=git_env(), capture_output=True, text=True, check=True)
    return proc.stdout


def git_commit_all(root: Path, message: str = "fixture") -> str:
    """git init (if needed) + add -A + commit in root. Returns the commit id."""
    if not (root / ".git").exists():
        git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def _placeholder_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _lock_package(name: str, version: str, marker: str | None = None) -> str:
    """One [[package]] entry for a registry package with an sdist and a universal wheel (in fork `marker`)."""
    dist = name.replace("-", "_")
    sdist = f"{dist}-{version}.tar.gz"
    wheel = f"{dist}-{version}-py3-none-any.whl"
    base = "https://files.pythonhosted.org/packages/fi/xt/ure"
    return (
        "[[package]]\n"
        f'name = "{name}"\n'
        f'version = "{version}"\n'
        f'source = {{ registry = "{REGISTRY}" }}\n'
        + (f'resolution-markers = [\n    "{marker}",\n]\n' if marker else "")
        +
        f'sdist = {{ url = "{base}/{sdist}", hash = "sha256:{_placeholder_sha256(sdist)}", size = 1000 }}\n'
        "wheels = [\n"
        f'    {{ url = "{base}/{wheel}", hash = "sha256:{_placeholder_sha256(wheel)}", size = 1000 }},\n'
        "]\n"
    )


def _normalized(pins: Iterable[Pin]) -> list[Pin]:
    return sorted({(canonical_name(n), v) for n, v in pins})


def write_uv_project(
    root: Path,
    pins: Iterable[Pin],
    *,
    dev_pins: Iterable[Pin] = (),
    name: str = FIXTURE_PROJECT,
    forks: Mapping[str, list[tuple[str, str]]] | None = None,
    local: Mapping[str, str] | None = None,
) -> Path:
    """Write pyproject.toml and uv.lock pinning exactly `pins` (and `dev_pins` in the dev group).

    Every pin is a direct dependency with no dependencies of its own; a name in both lists must have the
    same version. `forks` maps a name to its [(version, marker)], locked as uv locks a package whose version
    differs per platform (resolution-markers); `local` maps a name to the source of a package that is not
    from a registry (a TOML key = value, e.g. 'directory = "../mylib"'). Returns root.
    """
    main = _normalized(pins)
    dev = _normalized(dev_pins)
    versions: dict[str, str] = {}
    for pkg, version in main + dev:
        if versions.setdefault(pkg, version) != version:
            raise ValueError(f"{pkg} pinned to two versions: {versions[pkg]} and {version}")

    def toml_list(items: list[Pin]) -> str:
        return "".join(f'    "{n}=={v}",\n' for n, v in items)

    forks = {canonical_name(n): f for n, f in (forks or {}).items()}
    local = {canonical_name(n): source for n, source in (local or {}).items()}
    fork_deps = "".join(f'    "{n}=={v} ; {m}",\n' for n, fork in forks.items() for v, m in fork)
    pyproject = (
        "[project]\n"
        f'name = "{name}"\n'
        'version = "0.1.0"\n'
        'requires-python = ">=3.11"\n'
        f"dependencies = [\n{toml_list(main)}{fork_deps}]\n"
    )
    if dev:
        pyproject += f"\n[dependency-groups]\ndev = [\n{toml_list(dev)}]\n"
    pyproject += "\n[tool.uv]\npackage = false\n"

    def lock_deps(items: list[Pin]) -> str:
        return "".join(f'    {{ name = "{n}" }},\n' for n, _ in items) + "".join(
            f'    {{ name = "{n}", version = "{v}", source = {{ registry = "{REGISTRY}" }}, marker = "{m}" }},\n'
            for n, fork in forks.items() for v, m in fork
        ) + "".join(f'    {{ name = "{n}" }},\n' for n in local)

    def lock_specs(items: list[Pin]) -> str:
        return "".join(f'    {{ name = "{n}", specifier = "=={v}" }},\n' for n, v in items) + "".join(
            f'    {{ name = "{n}", marker = "{m}", specifier = "=={v}" }},\n'
            for n, fork in forks.items() for v, m in fork
        ) + "".join(f'    {{ name = "{n}" }},\n' for n in local)

    root_pkg = (
        "[[package]]\n"
        f'name = "{name}"\n'
        'version = "0.1.0"\n'
        'source = { virtual = "." }\n'
        f"dependencies = [\n{lock_deps(main)}]\n"
    )
    if dev:
        root_pkg += f"\n[package.dev-dependencies]\ndev = [\n{lock_deps(dev)}]\n"
    root_pkg += f"\n[package.metadata]\nrequires-dist = [\n{lock_specs(main)}]\n"
    if dev:
        root_pkg += f"\n[package.metadata.requires-dev]\ndev = [\n{lock_specs(dev)}]\n"

    # uv sorts packages by name, then version; the virtual root sits among them like any other.
    entries = {(pkg, version): _lock_package(pkg, version) for pkg, version in versions.items()}
    for pkg, fork in forks.items():
        entries.update({(pkg, v): _lock_package(pkg, v, m) for v, m in fork})
    for pkg, source in local.items():
        entries[(pkg, "0.1.0")] = f'[[package]]\nname = "{pkg}"\nversion = "0.1.0"\nsource = {{ {source} }}\n'
    entries[(canonical_name(name), "0.1.0")] = root_pkg
    markers = "".join(f'    "{m}",\n' for fork in forks.values() for _, m in fork)
    lock = (
        'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n'
        + (f"resolution-markers = [\n{markers}]\n" if markers else "")
        + "\n"
        + "\n".join(entries[key] for key in sorted(entries, key=lambda k: (k[0], Version(k[1]))))
    )

    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(pyproject)
    (root / "uv.lock").write_text(lock)
    return root


def copy_repo_lock(root: Path) -> Path:
    """Copy this repository's real pyproject.toml and uv.lock into root, with the suppression file that accepts how
    its [tool.bandit] narrows bandit. Returns root."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "uv.lock", ".security-suppressions.json"):
        shutil.copy2(REPO_ROOT / name, root / name)
    return root


def find_uv() -> str:
    """The uv executable: uv on PATH, else the one scripts/bootstrap.sh installs in .tools/uv."""
    uv = shutil.which("uv") or shutil.which("uv", path=str(REPO_ROOT / ".tools" / "uv" / "bin"))
    if not uv:
        raise FileNotFoundError("uv not found on PATH nor in .tools/uv/bin (run scripts/bootstrap.sh)")
    return uv


def uv_export(root: Path, *extra: str) -> str:
    """`uv export` of root's lock with the gate's flags, offline; the requirements text.

    Raises CalledProcessError (with uv's stderr) if uv rejects the lock.
    """
    env = dict(os.environ, UV_OFFLINE="1", UV_NO_PROGRESS="1")
    proc = subprocess.run(
        [find_uv(), "export", "--frozen", "--format", "requirements-txt", "--no-emit-project",
         "--all-groups", "--no-header", *extra],
        cwd=root, env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, proc.args, proc.stdout, proc.stderr)
    return proc.stdout
