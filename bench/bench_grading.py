"""Autograde a class of synthetic DDPM submissions, sequentially (`nbgrader autograde`) and in parallel
(`coursekit.grading.autograde_parallel`), and print seconds per submission and whether the scores agree.
``--sandbox-cost`` measures what the bubblewrap sandbox adds per submission instead: the same class graded by
`nbgrader autograde` with sandboxed and with plain kernels (the course's config with the kernel manager swapped
back), and a kernel start → first cell → shutdown cycle with each kernel manager.

``--shutdown`` grades the same class twice with `nbgrader autograde`: the kernel killed once its last cell has
replied (nbgrader_config.py's ``c.Execute.shutdown_kernel = "immediate"``) and asked to exit (nbclient's default,
"graceful"); the scores must be identical.

``--preflight`` times the preflight (the instructor's solution graded once in the sandbox before a class; then
cached) against one submission. ``--similarity`` prints how similar the fairness classes' independently written
correct submissions are to each other and to coursekit's source: what coursekit.grading.similarity.THRESHOLD is
set on (no grading; about a second).

    python bench/bench_grading.py --n 50 --workers 4
    python bench/bench_grading.py --sandbox-cost --n 10 --repeats 10
    python bench/bench_grading.py --shutdown --n 10
    python bench/bench_grading.py --preflight --repeats 3
    python bench/bench_grading.py --similarity
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
from coursekit.grading import diagnosis, execution  # noqa: E402


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


# Appended to a course copy's nbgrader_config.py: nbclient's default shutdown (ask the kernel to exit, then wait).
GRACEFUL = """
c.Execute.shutdown_kernel = "graceful"
"""


def _nbgrader_env(**extra: str) -> dict[str, str]:
    """This environment with its interpreter's folder first on PATH (nbgrader calls `alembic` from PATH)."""
    return dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
                **extra)


def _course(root: Path, n: int, sandboxed: bool = True, extra: str = "") -> list[str]:
    root.mkdir(parents=True)
    shutil.copy2(REPO / "nbgrader_config.py", root)
    if not sandboxed or extra:
        with open(root / "nbgrader_config.py", "a", encoding="utf-8") as f:
            f.write(("" if sandboxed else UNSANDBOXED) + extra)
    shutil.copytree(REPO / "solutions", root / "solutions")
    env = _nbgrader_env()
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
    env = _nbgrader_env()
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
            subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "ddpm"], cwd=root,
                           env={**env, "COURSEKIT_PREFLIGHT": "0"}, capture_output=True)
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


def _autograde_timed(root: Path, env: dict[str, str]) -> tuple[dict[str, float], float]:
    """`nbgrader autograde ddpm` in ``root``; ({student: seconds from "Autograding" to the graded notebook written}
    (the kernel's start, its cells, its shutdown), seconds from the command's start to its first "Autograding"),
    read off nbgrader's log lines as they arrive."""
    launched = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", "ddpm"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    began: dict[str, float] = {}
    spans: dict[str, float] = {}
    students = set(execution._students(root, "ddpm"))
    for line in proc.stdout:
        student = next((part for part in line.split("/") if part in students), None)
        if student and "INFO] Autograding " in line:
            began[student] = time.perf_counter()
        elif student and "INFO] Writing" in line and student in began and student not in spans:
            spans[student] = time.perf_counter() - began[student]
    proc.wait()
    return spans, min(began.values(), default=launched) - launched


def _cell_seconds(notebook: Path) -> dict[str, float]:
    """{grade_id or "code": seconds} of the executed cells (diagnosis.cell_seconds: nbclient's busy → idle)."""
    import json

    out: dict[str, float] = {}
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        took = diagnosis.cell_seconds(cell) if cell["cell_type"] == "code" else None
        if took is not None:
            key = cell["metadata"].get("nbgrader", {}).get("grade_id") or "code"
            out[key] = out.get(key, 0.0) + took
    return out


def shutdown_cost(n: int) -> None:
    """Seconds per submission with the kernel killed after its last cell (the course's setting) and with
    nbclient's graceful shutdown, the same class graded by `nbgrader autograde` (preflight off in both); then
    where a submission's time goes with the course's setting (medians over the class)."""
    env = _nbgrader_env(COURSEKIT_PREFLIGHT="0")
    seconds: dict[str, float] = {}
    scores = {}
    names = ("kernel start, shutdown, gradebook", "set-up cell (import torch, coursekit)",
             "part 5: training test cell", "every other cell", "one submission, all of it")
    parts: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-shutdown-") as tmp:
        for mode, extra in (("immediate", ""), ("graceful", GRACEFUL)):
            root = Path(tmp) / mode
            _course(root, n, extra=extra)
            start = time.perf_counter()
            spans, startup = _autograde_timed(root, env)
            seconds[mode] = time.perf_counter() - start
            scores[mode] = grading.scores(root, "ddpm")
            if mode != "immediate":
                continue
            startup_immediate = startup
            for student, span in spans.items():
                cells = _cell_seconds(root / "autograded" / student / "ddpm" / "ddpm.ipynb")
                setup, train = cells.pop("setup", 0.0), cells.pop("test_train_sample", 0.0)
                parts["kernel start, shutdown, gradebook"].append(span - setup - train - sum(cells.values()))
                parts["set-up cell (import torch, coursekit)"].append(setup)
                parts["part 5: training test cell"].append(train)
                parts["every other cell"].append(sum(cells.values()))
                parts["one submission, all of it"].append(span)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"kernel shutdown, class of {n}, {os.cpu_count()} CPU cores, load average {load:.1f} (1 min) at the end")
    print(f"{'nbgrader autograde':40s}{'immediate s':>13s}{'graceful s':>12s}{'saved s':>9s}")
    print(f"{'  per submission':40s}{seconds['immediate'] / n:13.2f}{seconds['graceful'] / n:12.2f}"
          f"{(seconds['graceful'] - seconds['immediate']) / n:9.2f}")
    print(f"scores identical: {scores['immediate'] == scores['graceful']}")
    graded = len(parts["one submission, all of it"])
    print(f"where a submission's time goes (kernel killed after its last cell), over {graded} submissions:")
    print(f"{'':40s}{'median s':>13s}{'min s':>12s}{'max s':>9s}")
    for name, values in parts.items():
        if values:
            print(f"{'  ' + name:40s}{statistics.median(values):13.2f}{min(values):12.2f}{max(values):9.2f}")
    print(f"  and once per `nbgrader autograde` process: {startup_immediate:.2f} s from its start to its first "
          "submission (importing nbgrader, the configuration, the gradebook)")


def similarity_table() -> None:
    """Independent correct submissions (tests/test_fairness_*.py styles and the reference solution): the pair
    scores over all parts, the largest single-part containment, and each function's best match in coursekit; then
    renamed copies (the positive control). THRESHOLD must sit above every independent value, below the copies."""
    import itertools
    import re

    sys.path.insert(0, str(REPO / "tests"))
    import fairness_answers

    from coursekit.grading import similarity as S

    package = S.package_functions()
    print(f"similarity: {S.K}-grams of normalised tokens, template removed, threshold {S.THRESHOLD}")
    print(f"{'assignment':12s}{'styles':>7s}{'pairs':>6s}{'pair max':>9s}{'pair med':>9s}{'part max':>9s}"
          f"{'vs pkg max':>11s}{'  (ref. sol.)':>14s}")
    worst = {"pair": 0.0, "part": 0.0, "pkg": 0.0, "pkg_ref": 0.0}
    for a in fairness_answers.ASSIGNMENTS:
        styles = fairness_answers.independent_answers(a)
        templates = fairness_answers.release_templates(a)
        prints = {name: S.own_fingerprints(v, templates) for name, v in styles.items()}
        pairs, parts = [], []
        for x, y in itertools.combinations(sorted(prints), 2):
            score, per_part = S.pair_score(prints[x], prints[y])
            if per_part:
                pairs.append(score)
                parts += per_part.values()
        copies = S.copies_of_package(styles, templates, threshold=0.0, package=package)
        pkg = max((c.score for c in copies if c.student != "reference"), default=0.0)
        pkg_ref = max((c.score for c in copies if c.student == "reference"), default=0.0)
        print(f"{a:12s}{len(styles):7d}{len(pairs):6d}{max(pairs):9.2f}{statistics.median(pairs):9.2f}"
              f"{max(parts):9.2f}{pkg:11.2f}{pkg_ref:14.2f}")
        for key, value in (("pair", max(pairs)), ("part", max(parts)), ("pkg", pkg), ("pkg_ref", pkg_ref)):
            worst[key] = max(worst[key], value)
    print(f"{'all':12s}{'':7s}{'':6s}{worst['pair']:9.2f}{'':9s}{worst['part']:9.2f}{worst['pkg']:11.2f}"
          f"{worst['pkg_ref']:14.2f}")
    import inspect

    from coursekit import vae
    from coursekit.diffusion import forward, sampling

    def renamed(src: str) -> str:            # comments and docstrings gone, variables renamed
        src = re.sub(r'"""[\s\S]*?"""', "", re.sub(r"#.*", "", src))
        for old_name, new_name in (("alpha_bars", "ab"), ("x0", "x_start"), ("noise", "eps_"), ("logvar", "lv")):
            src = src.replace(old_name, new_name)
        return src

    print("renamed copies of coursekit functions (positive control):")
    for fn in (forward.q_sample, sampling.p_sample_step, vae.gaussian_kl):
        got = S.copies_of_package({"s": {"part": renamed(inspect.getsource(fn))}}, {}, threshold=0.0,
                                  package=package)
        print(f"  {fn.__module__}.{fn.__name__}: {got[0].score:.2f}")


def preflight_cost(repeats: int) -> None:
    """CPU seconds of the preflight (uncached, then cached) and of one reference submission, in a DDPM course copy
    whose kernels run outside the sandbox: a sandboxed kernel's CPU time never reaches the grader's accounting
    (bwrap is killed at shutdown, its children's times with it), and the sandbox itself costs ~0.02 s."""
    import resource

    env = _nbgrader_env()
    rows = {"preflight (uncached)": [], "preflight (cached)": [], "one submission (COURSEKIT_PREFLIGHT=0)": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bench-preflight-") as tmp:
            root = Path(tmp) / "c"
            _course(root, 1, sandboxed=False)
            for name, cmd, extra in (
                    ("preflight (uncached)", ["-m", "coursekit.grading.preflight", str(root), "ddpm"], {}),
                    ("preflight (cached)", ["-m", "coursekit.grading.preflight", str(root), "ddpm"], {}),
                    ("one submission (COURSEKIT_PREFLIGHT=0)", ["-m", "nbgrader", "autograde", "ddpm", "--force"],
                     {"COURSEKIT_PREFLIGHT": "0"})):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run([sys.executable, *cmd], cwd=root, env={**env, **extra}, check=True,
                               capture_output=True)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                rows[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    print(f"preflight cost, DDPM, CPU seconds of the processes (unsandboxed kernels included), median of {repeats}")
    for name, values in rows.items():
        print(f"  {name:42s}{statistics.median(values):8.1f}  (range {min(values):.1f}–{max(values):.1f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=50, help="submissions in the class")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--skip-sequential", action="store_true")
    p.add_argument("--sandbox-cost", action="store_true", help="measure the sandbox's cost per submission")
    p.add_argument("--repeats", type=int, default=10, help="kernel cycles per kernel manager (--sandbox-cost)")
    p.add_argument("--shutdown", action="store_true", help="the kernel killed after its last cell vs asked to exit")
    p.add_argument("--preflight", action="store_true", help="CPU seconds of the preflight vs one submission")
    p.add_argument("--similarity", action="store_true", help="the similarity threshold's calibration table")
    args = p.parse_args()
    if args.similarity:
        similarity_table()
        return
    if args.preflight:
        preflight_cost(args.repeats)
        return
    if args.shutdown:
        shutdown_cost(args.n)
        return
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
            env = _nbgrader_env()
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
