"""A Colab-like Python environment for the notebook tests: a fresh virtual environment holding what Colab
preinstalls that the course needs (torch and torchvision, ipykernel, ipywidgets, matplotlib, nbconvert) and
coursekit installed the way a notebook's Colab install cell installs it (``pip install "coursekit[zh] @ …"``,
not editable, with its runtime dependencies only: no nbgrader, scipy-only extras, diffusers or dev tools).

torch and torchvision are not installed again (gigabytes): like Colab's preinstalled copy, the environment
sees the development environment's installed distributions of exactly torch, torchvision and their
requirements, through a folder of links named in a ``.pth`` file. Everything else is installed by pip.

Built once into ``.venv-colab/`` (git-ignored) under a file lock, shared by the test workers, and rebuilt when
pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from filelock import FileLock

REPO = Path(__file__).resolve().parent.parent
ENV = REPO / ".venv-colab"
PREINSTALLED = ["ipykernel", "ipywidgets", "matplotlib", "nbconvert", "nbclient"]   # what Colab ships, besides torch
SHARED = ["torch", "torchvision"]                                                 # linked, not reinstalled


def _requirements(name: str, seen: set[str], extras: frozenset[str] = frozenset()) -> None:
    """``name`` (with ``extras``) and every distribution it requires, markers evaluated, recursively."""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if (key, extras) in seen:
        return
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return
    seen.add((key, extras))
    from packaging.requirements import Requirement

    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (extras or {""})):
            _requirements(req.name, seen, frozenset(req.extras))


def _link_shared(site_links: Path) -> None:
    """Links to the installed files of torch, torchvision and their requirements (top-level entries only)."""
    found: set[tuple[str, frozenset[str]]] = set()
    for name in SHARED:
        _requirements(name, found)
    site_links.mkdir(parents=True)
    for key in sorted({key for key, _ in found}):
        dist = md.distribution(key)
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            src = base / top
            if src.exists() and not (site_links / top).exists() and not top.endswith(".pth") and top != "__pycache__":
                (site_links / top).symlink_to(src)


def _stamp() -> str:
    text = (REPO / "pyproject.toml").read_bytes() + Path(__file__).read_bytes()
    return hashlib.sha256(text).hexdigest()[:16]


def _pip(python: Path, *args: str) -> None:
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def colab_python() -> Path:
    """The interpreter of the Colab-like environment (built on first use, then reused)."""
    python = ENV / "bin" / "python"
    with FileLock(str(ENV) + ".lock", timeout=1800):
        stamp = ENV / "coursekit-stamp"
        if stamp.exists() and stamp.read_text() == _stamp() and python.exists():
            return python
        shutil.rmtree(ENV, ignore_errors=True)
        venv.create(ENV, with_pip=True, symlinks=True)
        site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
        links = ENV / "preinstalled"
        _link_shared(links)
        (site / "colab-preinstalled.pth").write_text(str(links) + "\n")
        _pip(python, *PREINSTALLED)
        # exactly what the install cell runs on Colab, with the repository URL replaced by this checkout
        build = ENV / "src"
        shutil.copytree(REPO, build, ignore=shutil.ignore_patterns(".git", ".venv*", "_build", "artifacts",
                                                                     "__pycache__", "*.egg-info", "build"))
        _pip(python, f"{build}[zh]")
        shutil.rmtree(build, ignore_errors=True)
        stamp.write_text(_stamp())
    return python


def installed(python: Path) -> set[str]:
    """Names of the distributions the environment has (normalised)."""
    done = subprocess.run([str(python), "-c", "import importlib.metadata as m; "
                           "print('\\n'.join(d.metadata['Name'] for d in m.distributions()))"],
                          capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONNOUSERSITE="1"))
    return {re.sub(r"[-_.]+", "-", n).lower() for n in done.stdout.split()}


if __name__ == "__main__":
    print(colab_python())
    sys.exit(0)
