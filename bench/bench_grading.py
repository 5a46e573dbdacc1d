"""Autograde a class of synthetic DDPM submissions, sequentially (`nbgrader autograde`) and in parallel
(`coursekit.grading.autograde_parallel`), and print seconds per submission and whether the scores agree.

    python bench/bench_grading.py --n 50 --workers 4
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from coursekit import grading  # noqa: E402


def _cases():
    spec = importlib.util.spec_from_file_location("cases", REPO / "tests/fixtures/submissions/make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _course(root: Path, n: int) -> list[str]:
    root.mkdir(parents=True)
    shutil.copy2(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions", root / "solutions")
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "ddpm", "--force"], cwd=root,
                   env=env, check=True, capture_output=True)
    return _cases().write_class(root, n)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=50, help="submissions in the class")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--skip-sequential", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        rows = []
        seq_root, par_root = Path(tmp) / "seq", Path(tmp) / "par"
        students = _course(seq_root, args.n)
        _course(par_root, args.n)
        sequential = None
        if not args.skip_sequential:
            env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "ddpm"], cwd=seq_root, env=env,
                           capture_output=True)
            rows.append(("sequential (nbgrader autograde)", 1, time.perf_counter() - start))
            sequential = grading.scores(seq_root, "ddpm")
        start = time.perf_counter()
        parallel = grading.autograde_parallel(par_root, "ddpm", workers=args.workers)
        rows.append(("parallel (coursekit.grading)", args.workers, time.perf_counter() - start))
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"class of {len(students)} synthetic submissions, {os.cpu_count()} CPU cores, load average {load:.1f}")
        print(f"{'mode':34s}{'workers':>8s}{'total s':>10s}{'s / submission':>16s}{'speed-up':>10s}")
        for name, workers, seconds in rows:
            ratio = f"{rows[0][2] / seconds:9.2f}x" if not args.skip_sequential else "      n/a"
            print(f"{name:34s}{workers:8d}{seconds:10.1f}{seconds / len(students):16.2f}{ratio:>10s}")
        print(f"gradebook complete: {len(parallel) == len(students)}", end="")
        if sequential is not None:
            print(f"; scores identical to sequential: {parallel == sequential}")
        else:
            print()


if __name__ == "__main__":
    main()
