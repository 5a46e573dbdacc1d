"""Execute a lecture notebook top to bottom and keep the executed copy, so the course site shows real outputs
without training everything again.

    python notebooks/execute.py notebooks/zh/04a_….ipynb     # execute (or reuse the cached copy), print its path

The executed copy is cached under ``_build/executed/<edition>/<name>`` beside a key: the SHA-256 of the
notebook and of every ``coursekit`` source file. A notebook whose key is unchanged is not executed again;
tests/test_notebooks.py always executes (and refreshes the cache), the site build (scripts/site.sh) reuses it.
The kernel starts in a folder named after the edition (``zh``/``en``), so ``coursekit.i18n.edition()`` finds
the language as it does in JupyterLab. Writes are atomic: an interrupted run never leaves a half copy.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / "executed"


def key(notebook: Path) -> str:
    """SHA-256 of the notebook and of the coursekit sources it runs."""
    digest = hashlib.sha256(Path(notebook).read_bytes())
    for path in sorted((ROOT / "coursekit").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def cached(notebook: Path, cache: Path = CACHE) -> Path | None:
    """The executed copy of ``notebook`` if its key is current, else None."""
    notebook = Path(notebook)
    out = cache / notebook.parent.name / notebook.name
    stamp = out.with_name(out.name + ".key")
    if out.exists() and stamp.exists() and stamp.read_text() == key(notebook):
        return out
    return None


def kernel_env(python: Path | None = None) -> dict[str, str]:
    """The environment of a student's kernel: default budgets, no forced language or backend."""
    env = dict(os.environ, COURSEKIT_PROGRESS="0", PYTHONWARNINGS="ignore::DeprecationWarning")
    for var in ("MPLBACKEND", "COURSEKIT_LANG", "COURSEKIT_BIG"):
        env.pop(var, None)
    if python is not None:                     # "python" in a kernelspec is this interpreter
        env["PATH"] = os.pathsep.join([str(Path(python).parent), env.get("PATH", "")])
    return env


def execute(notebook: Path, python: Path | None = None, cache: Path = CACHE, timeout: int = 600) -> Path:
    """Execute ``notebook`` with ``python`` (default: this interpreter) through nbconvert; store and return the
    executed copy. RuntimeError (with the end of nbconvert's output) when a cell fails."""
    notebook, python = Path(notebook).resolve(), Path(python or sys.executable)
    key_now = key(notebook)
    out = cache / notebook.parent.name / notebook.name
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="coursekit-exec-") as tmp:
        work = Path(tmp) / notebook.parent.name
        work.mkdir()
        shutil.copy(notebook, work / notebook.name)
        done = subprocess.run(
            [str(python), "-m", "nbconvert", "--to", "notebook", "--execute",
             f"--ExecutePreprocessor.timeout={timeout}", "--ExecutePreprocessor.kernel_name=python3",
             # every output is in once the last cell replies: kill the kernel rather than wait ~1 s for its exit
             "--ExecutePreprocessor.shutdown_kernel=immediate",
             "--output", "executed.ipynb", str(work / notebook.name)],
            cwd=work, env=kernel_env(python), capture_output=True, text=True, timeout=timeout + 300)
        if done.returncode != 0:
            raise RuntimeError(f"{notebook.name} failed:\n{(done.stdout + done.stderr)[-6000:]}")
        staged = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        shutil.copy(work / "executed.ipynb", staged)
        os.replace(staged, out)
    stamp = out.with_name(out.name + ".key")
    stamp_tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
    stamp_tmp.write_text(key_now)
    os.replace(stamp_tmp, stamp)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks/zh/*.ipynb or notebooks/en/*.ipynb")
    parser.add_argument("--force", action="store_true", help="execute even when the cached copy is current")
    args = parser.parse_args(argv)
    for nb in args.notebooks:
        if not nb.is_file() or nb.suffix != ".ipynb":
            parser.error(f"notebooks: expected .ipynb files, got {nb}")
    for nb in args.notebooks:
        hit = None if args.force else cached(nb)
        print(hit or execute(nb), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
