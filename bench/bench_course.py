"""The course's own wall time: execute every lecture notebook, one edition and then the other, and print a table.

    python bench/bench_course.py                    # notebooks/zh/*.ipynb, then notebooks/en/*.ipynb
    python bench/bench_course.py --edition en       # one edition only
    python bench/bench_course.py --only 04          # notebooks whose file name contains "04"
    python bench/bench_course.py --json times.json  # also write the rows

Each notebook runs top to bottom in a fresh Python kernel started in its own folder (as JupyterLab, nbval and
the CI do, so ``coursekit.i18n.edition()`` finds the edition), with the notebook's defaults: no ``BIG``, no
``COURSEKIT_LANG``, the kernel's thread count as the notebook sets it (``--threads N`` exports
OMP_NUM_THREADS=N to the kernel as well). Notebooks are discovered, so new units are timed without editing this
file; nothing is written back to them.

Columns: wall seconds from kernel start to the last cell (kernel start included, about 1–3 s), and the kernel
process's CPU seconds (user + system, with its finished child processes), read just before it shuts down. With
one torch thread CPU time is the work done, wall time what a student waits; on a shared machine only the CPU
column is comparable between runs. Targets: each notebook ≤ 60 s (the CI budget; the unit standard allows 3 min)
and the whole course, one edition, ≤ 10 min on 2 cores with defaults. Exits 1 if a notebook fails to run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EDITIONS = ("zh", "en")
NOTEBOOK_TARGET_S = 60.0           # per notebook, per edition (the CI budget in the engineers' brief)
EDITION_TARGET_S = 600.0           # the whole course, one edition (issue 18)


def discover(root: Path, editions: tuple[str, ...], only: str | None = None) -> list[tuple[str, Path]]:
    """(edition, path) of every notebook under root/<edition>/, in file-name order, edition by edition."""
    found = []
    for edition in editions:
        for path in sorted((root / edition).glob("*.ipynb")):
            if only is None or only in path.name:
                found.append((edition, path))
    return found


def kernel_env(threads: int | None) -> dict[str, str]:
    """The environment of a student's kernel: the notebook's own defaults, no progress bars on stderr."""
    env = dict(os.environ, COURSEKIT_PROGRESS="0", PYTHONWARNINGS="ignore::DeprecationWarning")
    for var in ("MPLBACKEND", "COURSEKIT_LANG", "COURSEKIT_BIG"):
        env.pop(var, None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def _cpu_seconds(pid: int | None) -> float:
    """CPU time of a live process and of its children it has already waited for (psutil), NaN if unknown."""
    try:
        import psutil

        t = psutil.Process(pid).cpu_times()
        return t.user + t.system + t.children_user + t.children_system
    except Exception:              # no psutil, or the kernel already gone: report what we know
        return float("nan")


def run_notebook(path: Path, timeout: float, env: dict[str, str]) -> dict:
    """Execute one notebook in a fresh kernel; returns cells, wall and CPU seconds and the error if any."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    row = dict(notebook=path.name, edition=path.parent.name, cells=sum(c.cell_type == "code" for c in nb.cells),
               wall_s=float("nan"), cpu_s=float("nan"), error=None)
    start = time.perf_counter()
    try:
        with client.setup_kernel(cwd=str(path.parent), env=env):
            provisioner = getattr(client.km, "provisioner", None)
            pid = getattr(provisioner, "pid", None) or getattr(getattr(provisioner, "process", None), "pid", None)
            try:
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index)
            finally:
                row["wall_s"] = time.perf_counter() - start
                row["cpu_s"] = _cpu_seconds(pid)
    except (CellExecutionError, CellTimeoutError, DeadKernelError, RuntimeError) as exc:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))              # the traceback's terminal colours
        lines = [line for line in text.strip().splitlines() if line.strip()]
        row["error"] = f"{type(exc).__name__}: {lines[-1] if lines else ''}"[:200]
    return row


def _fmt(seconds: float) -> str:
    return "—" if seconds != seconds else f"{seconds:.1f}"


def print_table(rows: list[dict], editions: tuple[str, ...]) -> None:
    width = max([len(r["notebook"]) for r in rows] + [20])
    head = f"{'ed.':<3} {'notebook':<{width}} {'cells':>5} {'wall s':>7} {'CPU s':>7} {'≤60 s':>5}  status"
    print(head)
    print("-" * (len(head) + 10))
    for r in rows:
        met = "yes" if r["wall_s"] <= NOTEBOOK_TARGET_S else "no"
        print(f"{r['edition']:<3} {r['notebook']:<{width}} {r['cells']:>5} {_fmt(r['wall_s']):>7} "
              f"{_fmt(r['cpu_s']):>7} {met:>5}  {r['error'] or 'ok'}")
    print("-" * (len(head) + 10))
    for edition in editions:
        mine = [r for r in rows if r["edition"] == edition]
        if not mine:
            continue
        wall, cpu = sum(r["wall_s"] for r in mine), sum(r["cpu_s"] for r in mine)
        met = "yes" if wall <= EDITION_TARGET_S else "no"
        print(f"{edition:<3} {'total (' + str(len(mine)) + ' notebooks)':<{width}} {'':>5} {_fmt(wall):>7} "
              f"{_fmt(cpu):>7}        whole edition ≤ {EDITION_TARGET_S / 60:.0f} min: {met}")
    wall, cpu = sum(r["wall_s"] for r in rows), sum(r["cpu_s"] for r in rows)
    print(f"{'all':<3} {'total':<{width}} {'':>5} {_fmt(wall):>7} {_fmt(cpu):>7}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edition", choices=(*EDITIONS, "both"), default="both")
    parser.add_argument("--only", default=None, help="only notebooks whose file name contains this text")
    parser.add_argument("--root", type=Path, default=REPO / "notebooks",
                        help="folder holding the zh/ and en/ editions (default: notebooks/)")
    parser.add_argument("--threads", type=int, default=None,
                        help="export OMP_NUM_THREADS/MKL_NUM_THREADS=N to the kernels (default: inherit)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per cell (default 600)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this file")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be a positive int, got {args.threads}")
    editions = EDITIONS if args.edition == "both" else (args.edition,)
    notebooks = discover(args.root, editions, args.only)
    if not notebooks:
        print(f"no notebooks found under {args.root}/{{{','.join(editions)}}}/", file=sys.stderr)
        return 1
    env = kernel_env(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(notebooks)} notebooks, {os.cpu_count()} CPUs, load average {load:.1f}, OMP_NUM_THREADS="
          f"{env.get('OMP_NUM_THREADS', 'unset')} (each notebook may set torch's thread count itself)", flush=True)
    rows = []
    for _, path in notebooks:
        row = run_notebook(path, args.timeout, env)
        rows.append(row)
        print(f"  {row['edition']}/{row['notebook']}: {_fmt(row['wall_s'])} s wall, {_fmt(row['cpu_s'])} s CPU"
              f"{', ' + row['error'] if row['error'] else ''}", flush=True)
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average at the end {load_end:.1f}")
    print_table(rows, editions)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    return 1 if any(r["error"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
