"""Autograde a class of synthetic DDPM submissions, sequentially (`nbgrader autograde`) and in parallel
(`coursekit.grading.autograde_parallel`), and print seconds per submission and whether the scores agree.
``--sandbox-cost`` measures what the bubblewrap sandbox adds per submission instead: the same class graded by
`nbgrader autograde` with sandboxed and with plain kernels (the course's config with the kernel manager swapped
back), and a kernel start → first cell → shutdown cycle with each kernel manager.

    python bench/bench_grading.py --n 50 --workers 4
    python bench/bench_grading.py --sandbox-cost --n 10 --repeats 10
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
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


# Appended to a course copy's nbgrader_config.py: the same pipeline with jupyter_client's plain kernel manager.
UNSANDBOXED = """
from jupyter_client.manager import AsyncKernelManager as _Plain


class _PlainExecute(CappedExecute):
    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = _Plain
        super().__init__(*args, **kwargs)


c.Autograde.autograde_preprocessors = [_PlainExecute if p is CappedExecute else p
                                       for p in c.Autograde.autograde_preprocessors]
"""


def _course(root: Path, n: int, sandboxed: bool = True) -> list[str]:
    root.mkdir(parents=True)
    shutil.copy2(REPO / "nbgrader_config.py", root)
    if not sandboxed:
        with open(root / "nbgrader_config.py", "a", encoding="utf-8") as f:
            f.write(UNSANDBOXED)
    shutil.copytree(REPO / "solutions", root / "solutions")
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "ddpm", "--force"], cwd=root,
                   env=env, check=True, capture_output=True)
    return _cases().write_class(root, n)


def _kernel_cycle(manager_class, cwd: Path) -> float:
    """Seconds to start a kernel, run one cell and shut it down (what nbgrader does per submission)."""
    import asyncio

    async def cycle() -> float:
        start = time.perf_counter()
        km = manager_class()
        await km.start_kernel(cwd=str(cwd))
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=120)
        reply = await kc.execute_interactive("x = 1 + 1", timeout=60)
        assert reply["content"]["status"] == "ok", reply
        kc.stop_channels()
        await km.shutdown_kernel()
        return time.perf_counter() - start

    return asyncio.run(cycle())


def sandbox_cost(n: int, repeats: int) -> None:
    from jupyter_client.manager import AsyncKernelManager

    from coursekit.grading import sandbox

    why = sandbox.check()
    if why:
        raise SystemExit(f"bench_grading: no sandbox here: {why}")
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        (work / "note.txt").write_text("a submission's folder\n")
        # the wrapper alone (bwrap, setpriv, prlimit, the copy of the working folder): `python -c pass`
        runtime = Path(tempfile.mkdtemp(prefix="ck-sbx-", dir=tmp))
        uid = sandbox.sandbox_uid()
        if uid is not None:
            os.chown(runtime, uid, uid)
        bare = [sys.executable, "-c", "pass"]
        wrapped = sandbox.sandbox_command(bare, workdir=work, runtime=runtime, env=dict(os.environ), uid=uid)
        starts: dict[str, list[float]] = {"plain": [], "sandboxed": []}
        for _ in range(3 * repeats):
            for mode, cmd in (("plain", bare), ("sandboxed", wrapped)):
                start = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                starts[mode].append(time.perf_counter() - start)
        cycles: dict[str, list[float]] = {"plain": [], "sandboxed": []}
        for _ in range(repeats):                      # interleaved, so that load changes hit both alike
            cycles["plain"].append(_kernel_cycle(AsyncKernelManager, work))
            cycles["sandboxed"].append(_kernel_cycle(sandbox.SandboxKernelManager, work))
        grades: dict[str, float] = {}
        scores = {}
        for mode in ("plain", "sandboxed"):
            root = Path(tmp) / mode
            _course(root, n, sandboxed=mode == "sandboxed")
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "ddpm"], cwd=root, env=env,
                           capture_output=True)
            grades[mode] = time.perf_counter() - start
            scores[mode] = grading.scores(root, "ddpm")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"sandbox cost, {os.cpu_count()} CPU cores, load average {load:.1f} (1 min) at the end")
    print(f"{'python -c pass':40s}{'plain s':>10s}{'sandboxed s':>13s}{'cost s':>9s}")
    med = {k: statistics.median(v) for k, v in starts.items()}
    print(f"{'  median of ' + str(3 * repeats):40s}{med['plain']:10.3f}{med['sandboxed']:13.3f}"
          f"{med['sandboxed'] - med['plain']:9.3f}")
    print(f"{'kernel start + 1 cell + shutdown':40s}{'plain s':>10s}{'sandboxed s':>13s}{'cost s':>9s}")
    med = {k: statistics.median(v) for k, v in cycles.items()}
    print(f"{'  median of ' + str(repeats):40s}{med['plain']:10.2f}{med['sandboxed']:13.2f}"
          f"{med['sandboxed'] - med['plain']:9.2f}")
    print(f"{'nbgrader autograde, class of ' + str(n):40s}{'plain s':>10s}{'sandboxed s':>13s}{'cost s':>9s}")
    print(f"{'  per submission':40s}{grades['plain'] / n:10.2f}{grades['sandboxed'] / n:13.2f}"
          f"{(grades['sandboxed'] - grades['plain']) / n:9.2f}")
    print(f"scores identical with and without the sandbox: {scores['plain'] == scores['sandboxed']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=50, help="submissions in the class")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--skip-sequential", action="store_true")
    p.add_argument("--sandbox-cost", action="store_true", help="measure the sandbox's cost per submission")
    p.add_argument("--repeats", type=int, default=10, help="kernel cycles per kernel manager (--sandbox-cost)")
    args = p.parse_args()
    if args.sandbox_cost:
        sandbox_cost(args.n, args.repeats)
        return
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
