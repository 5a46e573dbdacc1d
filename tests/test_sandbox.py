"""The grading sandbox on its own (coursekit/grading/sandbox.py) and the refusals around it: the bwrap command it
builds, one live sandboxed kernel, `nbgrader autograde` and `coursekit grade` where bubblewrap cannot work, and
the `coursekit grade` checks on its course folder. The attack class graded by nbgrader is
tests/test_sandbox_attacks.py."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coursekit.cli import main
from coursekit.grading import sandbox

REPO = Path(__file__).resolve().parent.parent
NO_SANDBOX = sandbox.check()
needs_sandbox = pytest.mark.skipif(bool(NO_SANDBOX), reason=f"no sandbox here: {NO_SANDBOX}")


def _command(tmp_path: Path, **kwargs) -> list[str]:
    work, runtime = tmp_path / "course" / "autograded" / "alice" / "ddpm", tmp_path / "rt"
    work.mkdir(parents=True)
    runtime.mkdir()
    env = {"PATH": "/usr/bin", "OMP_NUM_THREADS": "1", "COURSEKIT_GRADING": "1", "JPY_PARENT_PID": "42",
           "JUPYTERHUB_API_TOKEN": "secret", "AWS_SECRET_ACCESS_KEY": "secret", "LANG": "C.UTF-8"}
    return sandbox.sandbox_command([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"], workdir=work,
                                   runtime=runtime, env=env, **kwargs)


def _pairs(cmd: list[str], option: str) -> list[tuple[str, str]]:
    return [(cmd[i + 1], cmd[i + 2]) for i, a in enumerate(cmd) if a == option]


def test_the_command_hides_the_course_and_the_network(tmp_path):
    cmd = _command(tmp_path, uid=3_000_000_123)
    bwrap = cmd.index("bwrap")
    assert cmd[:bwrap] == ["sh", "-c", 'trap "" INT; exec "$@"', "sh"]
    for option in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--clearenv"):
        assert option in cmd
    course = str((tmp_path / "course").resolve())
    binds = _pairs(cmd, "--bind") + _pairs(cmd, "--ro-bind") + _pairs(cmd, "--ro-bind-try")
    sources = [src for src, _ in binds]
    # only the submission's folder (read-only, to be copied) and nothing else of the course; writable: the runtime
    assert [s for s in sources if s.startswith(course)] == [f"{course}/autograded/alice/ddpm"]
    assert _pairs(cmd, "--bind") == [(str((tmp_path / "rt").resolve()),) * 2]
    assert all(dest == src or dest.startswith(("/run/", sandbox.HOME)) for src, dest in binds)
    assert str(REPO / "coursekit") in sources and str(REPO) not in sources     # the package folder, not the repo
    assert f"{course}/autograded/alice/ddpm" in [cmd[i + 1] for i, a in enumerate(cmd) if a == "--tmpfs"]
    env = dict(_pairs(cmd, "--setenv"))
    assert "JPY_PARENT_PID" not in env and "JUPYTERHUB_API_TOKEN" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert env["COURSEKIT_GRADING"] == "1" and env["OMP_NUM_THREADS"] == "1" and env["HOME"] == sandbox.HOME
    assert "--remount-ro" in cmd
    inner = cmd[cmd.index("--", bwrap):]
    assert "setpriv" in inner and "--reuid=3000000123" in inner
    limits = inner[inner.index("prlimit"):]
    assert "--data=4294967296" in limits and "--nproc=64" in limits and "--core=0" in limits


def test_the_sandbox_shows_what_the_kernels_interpreter_imports(tmp_path, monkeypatch):
    """Asked of the kernel's interpreter from an empty folder, not found on the grader's sys.path: run from a
    folder holding another coursekit/, the grader still shows the kernel the one it imports."""
    (tmp_path / "coursekit").mkdir()
    (tmp_path / "coursekit" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = sandbox.kernel_imports(sys.executable, "", ("coursekit",), os.environ.get("PATH", ""))
    import coursekit

    real = Path(coursekit.__file__).resolve().parent
    assert [Path(p).resolve() for p in seen["packages"]["coursekit"]] == [real]
    assert {"torch", "numpy", "os", "coursekit"} <= set(seen["modules"]) and "dists" in seen
    assert Path(sys.prefix).resolve() in [Path(p).resolve() for p in seen["prefixes"]]
    paths = [p.resolve() for p in sandbox.python_paths(("coursekit",), sys.executable)]
    assert real in paths and (tmp_path / "coursekit").resolve() not in paths
    with pytest.raises(sandbox.KernelProbeError, match="not on its PATH"):
        sandbox.kernel_imports("no-such-python", "", ("coursekit",), "/nonexistent")


def test_entries_that_would_shadow_a_module_leave_the_working_copy(tmp_path):
    work = tmp_path / "course" / "autograded" / "alice" / "ddpm"
    work.mkdir(parents=True)
    for name in ("coursekit", "numpy"):
        (work / name).mkdir()
    for name in ("torch.py", "ddpm.ipynb", "notes.txt", "data.npz", "it's.py"):
        (work / name).write_text("x")
    modules = {"coursekit", "numpy", "torch", "os", "it's"}
    assert sandbox.shadowing_entries(work, modules) == ["coursekit", "it's.py", "numpy", "torch.py"]
    cmd = _command(tmp_path / "other", uid=None)
    inner = cmd[cmd.index("--", cmd.index("bwrap")) + 3]            # sh -c SCRIPT
    assert "rm -rf" not in inner                                     # nothing to remove there
    (tmp_path / "x").mkdir()
    runtime = tmp_path / "rt2"
    runtime.mkdir()
    cmd = sandbox.sandbox_command([sys.executable, "-m", "ipykernel_launcher"], workdir=work, runtime=runtime,
                                  env={"PATH": os.environ["PATH"]}, uid=None)
    script = cmd[cmd.index("-c", cmd.index("bwrap")) + 1]
    assert "rm -rf -- 'coursekit'" in script and "rm -rf -- 'torch.py'" in script and "numpy" in script
    assert "ddpm.ipynb" not in script and "notes.txt" not in script
    assert sandbox._sh_quote("it's") == "'it'\\''s'"                   # quoted for sh, whatever the name


def test_an_apparmor_restriction_is_named(tmp_path, monkeypatch):
    flag = tmp_path / "restrict"
    flag.write_text("1\n")
    assert sandbox.apparmor_restricts_userns(str(flag))
    flag.write_text("0\n")
    assert not sandbox.apparmor_restricts_userns(str(flag))
    assert not sandbox.apparmor_restricts_userns(str(tmp_path / "missing"))
    assert "AppArmor" in sandbox.APPARMOR_HINT and "docs/instructor.md" in sandbox.APPARMOR_HINT


def test_without_root_it_uses_a_user_namespace(tmp_path):
    cmd = _command(tmp_path, uid=None)
    assert "--unshare-user" in cmd and "--disable-userns" in cmd and "setpriv" not in cmd


def test_limits_are_checked(tmp_path):
    with pytest.raises(ValueError, match="memory_mb"):
        _command(tmp_path, memory_mb=1)


def test_refusal_is_one_line_and_unsafe_is_explicit(monkeypatch):
    monkeypatch.setattr(sandbox, "check", lambda: "bwrap is not installed")
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)
    with pytest.raises(sandbox.SandboxUnavailable) as err:
        sandbox.require()
    assert "\n" not in str(err.value) and "--unsafe" in str(err.value) and sandbox.UNSAFE_ENV in str(err.value)
    assert sandbox.require(unsafe=True) is False
    monkeypatch.setenv(sandbox.UNSAFE_ENV, "1")
    assert sandbox.require() is False
    monkeypatch.setattr(sandbox, "check", lambda: "")
    assert sandbox.require() is True


@needs_sandbox
def test_a_live_kernel_sees_only_its_copy(tmp_path, monkeypatch):
    """One sandboxed kernel: its working copy is writable but private, the course beside it is invisible,
    the grader's secrets are not in its environment, no network, not root, a private /proc."""
    course = tmp_path / "course"
    work = course / "autograded" / "alice" / "ddpm"
    work.mkdir(parents=True)
    (work / "ddpm.ipynb").write_text("{}")
    (course / "solutions").mkdir()
    (course / "solutions" / "answers.txt").write_text("the answers")
    monkeypatch.setenv("GRADER_SECRET", "s3cret")
    code = r"""
import json, os, socket
import coursekit
out = {"files": sorted(os.listdir(".")), "solutions": os.path.exists(SOLUTIONS), "coursekit": coursekit.__file__,
       "secret": os.environ.get("GRADER_SECRET"), "uid": os.getuid(),
       "procs": len([p for p in os.listdir("/proc") if p.isdigit()])}
open("written.txt", "w").write("x")
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2); out["net"] = True
except OSError:
    out["net"] = False
try:
    open(PLANTED, "w").write("x"); out["wrote_course"] = True
except OSError:
    out["wrote_course"] = False
print(json.dumps(out))
"""
    (work / "coursekit").mkdir()                     # a submitted coursekit/ must not shadow the real one
    (work / "coursekit" / "__init__.py").write_text("raise ImportError('shadow')\n")
    code = code.replace("SOLUTIONS", repr(str(course / "solutions" / "answers.txt")))
    code = code.replace("PLANTED", repr(str(course / "planted.txt")))

    async def run() -> str:
        km = sandbox.SandboxKernelManager()
        await km.start_kernel(cwd=str(work))
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=120)
            texts = []
            reply = await kc.execute_interactive(code, timeout=60, output_hook=lambda m: texts.append(
                m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
            assert reply["content"]["status"] == "ok", reply["content"]
            return "".join(texts)
        finally:
            kc.stop_channels()
            await km.shutdown_kernel()
            assert km._runtime is None

    seen = json.loads(asyncio.run(run()).strip().splitlines()[-1])
    assert seen["files"] == ["ddpm.ipynb"]                     # the shadowing coursekit/ is not in the copy
    assert Path(seen["coursekit"]).parent.resolve() == Path(sandbox.kernel_imports(
        sys.executable, "", ("coursekit",), os.environ.get("PATH", ""))["packages"]["coursekit"][0]).resolve()
    assert seen["solutions"] is False and seen["secret"] is None and seen["net"] is False
    assert seen["wrote_course"] is False and seen["uid"] != 0 and seen["procs"] <= 5
    assert not (work / "written.txt").exists()                 # the working copy's writes stay in the sandbox
    assert not (course / "planted.txt").exists()


def _nbgrader_env(path: str) -> dict[str, str]:
    env = dict(os.environ, PATH=path)
    env.pop(sandbox.UNSAFE_ENV, None)
    return env


def test_nbgrader_autograde_refuses_without_bubblewrap(tmp_path):
    """bwrap missing (PATH without it): `nbgrader autograde` stops with one line before grading anyone;
    COURSEKIT_UNSAFE_GRADING=1 lets it through."""
    shutil.copy2(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    bindir = str(Path(sys.executable).parent)
    cmd = [sys.executable, "-m", "nbgrader", "autograde", "ddpm"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=_nbgrader_env(bindir), timeout=300)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "refusing" in line]
    assert len(lines) == 1 and lines[0].startswith("nbgrader autograde: refusing to run student code unsandboxed")
    assert "bwrap is not installed" in lines[0]
    assert not (tmp_path / "gradebook.db").exists() and not (tmp_path / "autograded").exists()
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**_nbgrader_env(bindir), sandbox.UNSAFE_ENV: "1"})
    assert "refusing" not in proc.stderr


# --- coursekit grade: its course-folder checks (one line, exit 2, nothing created) -----------------------------

def _one_line(capsys, argv: list[str], code: int) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("coursekit grade: error: "), err
    return err[0]


@pytest.mark.parametrize("step", ["autograde", "feedback", "scores"])
def test_grade_outside_a_course(step, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _one_line(capsys, ["grade", step, "ddpm"], 2)
    assert "--root" in line and "nbgrader_config.py" in line
    line = _one_line(capsys, ["grade", step, "ddpm", "--root", str(tmp_path / "missing")], 2)
    assert "--root" in line and "no such folder" in line
    assert not list(tmp_path.iterdir()), "nothing created (no gradebook.db)"


def test_grade_scores_without_a_gradebook_creates_none(tmp_path, capsys):
    shutil.copy2(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    line = _one_line(capsys, ["grade", "scores", "ddpm", "--root", str(tmp_path)], 2)
    assert "gradebook.db" in line
    assert not (tmp_path / "gradebook.db").exists()


def test_grade_without_nbgrader(tmp_path, capsys, monkeypatch):
    import importlib.util

    shutil.copy2(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nbgrader" else real(name, *a))
    assert "nbgrader is not installed" in _one_line(capsys, ["grade", "autograde", "ddpm", "--root", str(tmp_path)], 2)


def test_grade_autograde_refuses_without_the_sandbox_unless_unsafe(tmp_path, capsys, monkeypatch):
    from coursekit.grading import parallel

    shutil.copy2(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    (tmp_path / "gradebook.db").write_bytes(b"")
    (tmp_path / "submitted" / "alice" / "ddpm").mkdir(parents=True)
    monkeypatch.setattr(sandbox, "check", lambda: "bwrap is not installed")
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)
    line = _one_line(capsys, ["grade", "autograde", "ddpm", "--root", str(tmp_path)], 1)
    assert "refusing to run student code unsandboxed" in line and "--unsafe" in line
    assert not (tmp_path / "autograded").exists()
    called = {}
    from coursekit.grading import commands

    monkeypatch.setattr(commands, "run_preflight", lambda root, a, unsafe=False: called.setdefault("pre", unsafe)
                        and "digest")
    monkeypatch.setattr(parallel, "_grade_batch", lambda *a: called.setdefault("unsafe", a[4]) and [])
    monkeypatch.setattr(parallel, "_nbgrader", lambda *a, **k: None)
    monkeypatch.setattr(parallel, "scores", lambda *a: {})
    assert main(["grade", "autograde", "ddpm", "--root", str(tmp_path), "--unsafe"]) == 0
    assert called == {"pre": True, "unsafe": True}
