"""Student code runs where it cannot reach the course: every kernel nbgrader starts while grading lives in a
bubblewrap (``bwrap``) sandbox.

In-kernel defences (private copies, plain-Python comparisons) cannot stop a submission that reads
``solutions/`` from disk, overwrites other submissions or rewrites the hidden tests in ``gradebook.db``: the
kernel runs with the instructor's rights. So the kernel itself is started inside ``bwrap``, and sees only

- read-only: the system (``/usr``, the ``/lib*`` folders, a few files of ``/etc``), the kernel interpreter's
  environment (its ``sys.prefix`` and the base interpreter it points to) and the source folders of the packages
  the grading imports, **as the kernel's interpreter finds them** (:func:`kernel_imports` asks that interpreter,
  outside any course folder: ``coursekit`` installed editable from another clone is that clone's
  ``coursekit/``, never the folder nbgrader happens to run in, and never a whole repository);
- writable, in memory and size-bounded: a private ``/tmp`` (``HOME`` is in it) and a copy of the one
  submission's working folder (``autograded/<student>/<assignment>``; nothing written there comes back), without
  any top-level file or folder named like a module the kernel's interpreter can import (a submitted
  ``coursekit/`` or ``torch.py`` would otherwise shadow the real one: the kernel puts its working folder first
  on ``sys.path``);
- the kernel's connection file and Unix sockets (jupyter_client's ``ipc`` transport: TCP on 127.0.0.1 does
  not cross a private network namespace) in a per-kernel folder.

No network (a private network namespace), a private PID namespace (when the kernel ends, every process it
started ends too), no environment variables but a short allow-list, and resource limits (``prlimit``):
allocated memory and address space (a memory bomb gets ``MemoryError``), processes (a fork bomb gets ``EAGAIN``),
CPU seconds, file size, no core files; a wall-clock watchdog kills the whole sandbox when a kernel outlives
``wall_seconds``, and when a cell times out every process of the sandbox but the kernel is ended.

nbgrader_config.py makes nbgrader's ``Execute`` start kernels with :class:`SandboxKernelManager`, so both
``nbgrader autograde`` and ``coursekit grade autograde`` are protected. Where bwrap cannot work (not Linux, not
installed, no user namespaces) grading refuses to start kernels with one line, unless the instructor opts
out explicitly: ``COURSEKIT_UNSAFE_GRADING=1`` (``coursekit grade autograde --unsafe`` sets it). On Ubuntu 23.10 and
later, AppArmor restricts unprivileged user namespaces: see :data:`APPARMOR_HINT` (docs/instructor.md has it in
both languages).

This module imports only the standard library and jupyter_client (nbgrader_config.py loads it in every
nbgrader process).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import weakref
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, List, Unicode

UNSAFE_ENV = "COURSEKIT_UNSAFE_GRADING"
HOME = "/tmp/home"               # inside the sandbox (in the private /tmp)
SUBMISSION = "/run/submission"   # inside: the working folder as nbgrader wrote it, read-only (copied from)

# /etc entries a Python kernel needs (dynamic linker, users, time zone, fonts); nothing else of /etc is visible.
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "passwd", "group", "hosts", "localtime",
       "timezone", "fonts", "alternatives", "mime.types", "os-release")
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Environment variables the kernel keeps (exact names, then prefixes); everything else is dropped.
KEEP_ENV = ("LANG", "LANGUAGE", "TZ", "TERM", "PYTHONPATH", "PYTHONWARNINGS", "PYTHONHASHSEED", "PYTHONIOENCODING",
            "PYTHONUNBUFFERED", "MPLBACKEND", "PYDEVD_DISABLE_FILE_VALIDATION")
KEEP_PREFIXES = ("LC_", "COURSEKIT_", "OMP_", "MKL_", "OPENBLAS_")
AS_EXTRA_MB = 6144               # address space beyond the data limit (libraries, thread stacks, reservations)
# Ubuntu 23.10+ (and 24.04 LTS) allow unprivileged user namespaces only to programs an AppArmor profile permits:
# bwrap then fails with "setting up uid map: Permission denied" (or "No permissions to create a new namespace").
APPARMOR_FILE = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
APPARMOR_HINT = ("Ubuntu 23.10+/24.04 restrict unprivileged user namespaces through AppArmor: give bwrap a profile "
                 "(docs/instructor.md, 'bubblewrap on Ubuntu'), or grade as root")


class SandboxUnavailable(RuntimeError):
    """bwrap cannot sandbox kernels here; the message is one line saying why and how to opt out."""


def unsafe_requested(env: dict[str, str] | None = None) -> bool:
    """True when the instructor explicitly asked to grade without the sandbox (COURSEKIT_UNSAFE_GRADING=1)."""
    return (os.environ if env is None else env).get(UNSAFE_ENV, "") == "1"


@functools.lru_cache(maxsize=1)
def _probe() -> str:
    """'' when bwrap can build the sandbox here, otherwise the reason (checked once per process, ~10 ms)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap sandboxes need Linux (this is {sys.platform})"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bwrap is not installed (as root, bash scripts/setup.sh or apt-get install bubblewrap installs it)"
    cmd = [bwrap, *_namespace_args(), *_system_args(), "--proc", "/proc", "--dev", "/dev", "--",
           *_drop(sandbox_uid()), "prlimit", "--nproc=8", "--", "true"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap does not run: {err}"
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        hint = APPARMOR_HINT if apparmor_restricts_userns() else "user namespaces may be disabled"
        return f"bwrap cannot create its namespaces here ({why}; {hint})"
    return ""


def apparmor_restricts_userns(path: str = APPARMOR_FILE) -> bool:
    """True where AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+: the sysctl reads 1)."""
    try:
        return Path(path).read_text().strip() == "1"
    except OSError:
        return False


def check() -> str:
    """'' when kernels can be sandboxed here, otherwise a one-line reason."""
    return _probe()


def require(unsafe: bool | None = None) -> bool:
    """Whether to sandbox: True when bwrap works; False only when the instructor opted out explicitly
    (``unsafe`` or COURSEKIT_UNSAFE_GRADING=1). Raises :class:`SandboxUnavailable` (one line) otherwise."""
    why = check()
    if not why:
        return True
    if unsafe or (unsafe is None and unsafe_requested()):
        return False
    raise SandboxUnavailable(f"refusing to run student code unsandboxed: {why}. Grade where bubblewrap works, "
                             f"or opt out explicitly with --unsafe ({UNSAFE_ENV}=1)")


def _namespace_args(root: bool | None = None) -> list[str]:
    """Every namespace but the user one when bwrap runs as root (the kernel then drops to its own unprivileged
    uid: for root, Linux never enforces the process limit); a user namespace otherwise."""
    root = os.geteuid() == 0 if root is None else root
    common = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
              "--die-with-parent"]
    if root:
        # only to hand the working copy to the sandbox's uid and drop to it (setpriv then clears every capability)
        return [*common, "--cap-add", "CAP_CHOWN", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return ["--unshare-user", "--disable-userns", *common]


def _drop(uid: int | None) -> list[str]:
    return [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                                   "--no-new-privs", "--"]


def sandbox_uid() -> int | None:
    """A fresh unprivileged uid (no user has it) for one sandbox when grading as root, so that the process limit
    counts that sandbox alone; None when not root (the user namespace does that)."""
    return 3_000_000_000 + secrets.randbelow(1_000_000) if os.geteuid() == 0 else None


def _system_args() -> list[str]:
    args: list[str] = []
    for top in SYSTEM:
        path = Path(top)
        if path.is_symlink():                  # merged /usr: /bin -> usr/bin
            args += ["--symlink", os.readlink(top), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


# Run by the kernel's own interpreter in an empty folder: where it imports each package from, its prefixes, and
# the top-level module names it can import (a submission must not shadow any of them).
_PROBE = r"""
import importlib.util, json, os, pkgutil, sys
out = {"prefixes": [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix], "packages": {}}
for name in sys.argv[1:]:
    spec = importlib.util.find_spec(name)
    if spec is not None:
        places = list(spec.submodule_search_locations or [])
        if not places and spec.origin and os.path.isabs(spec.origin):
            places = [os.path.dirname(spec.origin)]
        out["packages"][name] = places
names = set(sys.builtin_module_names) | set(getattr(sys, "stdlib_module_names", ()))
names |= {m.name for m in pkgutil.iter_modules() if m.module_finder.path not in ("", os.getcwd())}
out["modules"] = sorted(names | set(out["packages"]))
try:                                  # the installed distributions, hashed: the preflight's cache depends on them
    import hashlib, importlib.metadata as md
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in md.distributions())
    out["dists"] = hashlib.sha256(",".join(dists).encode()).hexdigest()
except Exception:
    pass
print(json.dumps(out))
"""


class KernelProbeError(RuntimeError):
    """The kernel's interpreter could not say where it imports its packages from (one line)."""


def _resolve(python: str, path: str) -> str:
    if os.path.isabs(python):
        return python
    found = shutil.which(python, path=path)
    if found is None:
        raise KernelProbeError(f"the kernel's interpreter {python!r} is not on its PATH ({path})")
    return found


@functools.lru_cache(maxsize=16)
def kernel_imports(python: str, pythonpath: str = "", packages: tuple[str, ...] = ("coursekit",),
                   path: str = "") -> dict:
    """What the kernel's interpreter ``python`` imports, asked of that interpreter itself, started in an empty
    folder with the kernel's PYTHONPATH: {"prefixes": [...], "packages": {name: [folders]}, "modules": [...]}.

    This, not the grader's own ``find_spec``, decides what the sandbox shows: nbgrader runs with the course
    folder on ``sys.path`` (it reads nbgrader_config.py there), so in a copy of the course the grader finds the
    copy's ``coursekit/`` while the kernel's interpreter imports the editable install's. Cached per process.
    """
    python = _resolve(python, path or os.environ.get("PATH", ""))
    env = {"PATH": path or os.environ.get("PATH", ""), "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryDirectory(prefix="ck-probe-") as empty:
        try:
            proc = subprocess.run([python, "-c", _PROBE, *packages], cwd=empty, env=env, capture_output=True,
                                  text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise KernelProbeError(f"cannot ask the kernel's interpreter {python} what it imports: {err}") from err
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise KernelProbeError(f"the kernel's interpreter {python} fails to start: {why}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def python_paths(packages: list[str] | tuple[str, ...] = ("coursekit",), python: str | None = None,
                 env: dict[str, str] | None = None) -> list[Path]:
    """Folders the kernel's Python needs, read-only: its environment, its base interpreter, and the source
    folder of each package in ``packages`` that lives outside them (an editable install: only that folder).

    ``python``: the kernel's interpreter; the folders are those *it* uses (:func:`kernel_imports`). Without it,
    the grader's own interpreter is assumed and asked the same way (never the grader's ``sys.path``, which holds
    the folder nbgrader runs in)."""
    env = dict(os.environ if env is None else env)
    seen = kernel_imports(python or sys.executable, env.get("PYTHONPATH", ""), tuple(packages), env.get("PATH", ""))
    paths: list[Path] = []
    for p in seen["prefixes"]:
        for q in (Path(p), Path(p).resolve()):
            if q not in paths and q.is_dir():
                paths.append(q)
    for name in packages:
        for loc in seen["packages"].get(name, []):
            for q in (Path(loc), Path(loc).resolve()):
                if q.is_dir() and not _inside(q, paths):
                    paths.append(q)
    return paths


def shadowing_entries(workdir: str | Path, modules: list[str] | set[str]) -> list[str]:
    """Top-level entries of ``workdir`` that would shadow an importable module (``coursekit/``, ``torch.py``,
    ``numpy.so``...): the kernel's working folder comes first on its ``sys.path``."""
    modules = set(modules)
    out = []
    for entry in sorted(os.listdir(workdir)):
        stem = entry.split(".", 1)[0]
        if stem in modules and (entry == stem or entry.endswith((".py", ".pyc", ".so", ".pth")) or
                                Path(workdir, entry).is_dir()):
            out.append(entry)
    return out


def _matplotlib_cache() -> Path | None:
    """The grader's matplotlib font list, shown read-only inside so the kernel does not rebuild it (matplotlib
    logs that rebuild on stderr, and stderr in a test cell scores it zero)."""
    xdg = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for base in (os.environ.get("MPLCONFIGDIR"), xdg / "matplotlib", Path.home() / ".cache" / "matplotlib"):
        lists = sorted(Path(base).glob("fontlist-v*.json")) if base and Path(base).is_dir() else []
        if lists:
            return lists[-1]
    return None


def kernel_env(env: dict[str, str], bindirs: list[str]) -> dict[str, str]:
    """The kernel's environment: the allow-listed variables of ``env`` plus PATH/HOME/TMPDIR of the sandbox
    (no tokens, no JPY_PARENT_PID: in a private PID namespace the kernel would think its parent is gone)."""
    out = {k: v for k, v in env.items() if k in KEEP_ENV or k.startswith(KEEP_PREFIXES)}
    out.update(PATH=os.pathsep.join([*bindirs, "/usr/local/bin", "/usr/bin", "/bin"]), HOME=HOME, TMPDIR="/tmp",
               USER="student", LOGNAME="student",
               MPLCONFIGDIR=f"{HOME}/.cache/matplotlib", XDG_CACHE_HOME=f"{HOME}/.cache",
               IPYTHONDIR=f"{HOME}/.ipython", JUPYTER_RUNTIME_DIR=f"{HOME}/.jupyter-runtime")
    return out


def sandbox_command(kernel_cmd: list[str], *, workdir: str | Path, runtime: str | Path, env: dict[str, str],
                    uid: int | None = None, memory_mb: int = 4096, max_processes: int = 64,
                    cpu_seconds: int = 3600, file_mb: int = 256, tmp_mb: int = 512,
                    packages: tuple[str, ...] = ("coursekit",)) -> list[str]:
    """``kernel_cmd`` wrapped so that it runs in a bwrap sandbox (see the module docstring).

    ``workdir`` is the submission's working folder: the kernel gets a writable in-memory copy of it at the same
    path. ``runtime`` holds the connection file and the ipc sockets (bound at the same path, writable).
    ``uid``: the unprivileged uid the kernel runs as when bwrap runs as root (:func:`sandbox_uid`).
    """
    if memory_mb < 64 or max_processes < 8 or cpu_seconds < 1 or file_mb < 1 or tmp_mb < 1:
        raise ValueError(f"sandbox limits too small: memory_mb={memory_mb}, max_processes={max_processes}, "
                         f"cpu_seconds={cpu_seconds}, file_mb={file_mb}, tmp_mb={tmp_mb}")
    workdir, runtime = str(Path(workdir).resolve()), str(Path(runtime).resolve())
    # "..": the path must exist inside the sandbox too (normpath, not realpath: a venv's python is a symlink
    # whose own path tells Python which environment it is)
    python = os.path.normpath(os.path.abspath(_resolve(kernel_cmd[0], env.get("PATH", os.environ.get("PATH", "")))))
    kernel_cmd = [python, *kernel_cmd[1:]]
    seen = kernel_imports(python, env.get("PYTHONPATH", ""), tuple(packages), env.get("PATH", ""))
    shadows = shadowing_entries(workdir, seen["modules"])
    bindirs = [str(Path(python).parent)]
    args = ["bwrap", *_namespace_args(root=uid is not None)]
    made = {"/"}

    def mount(*option: str) -> None:          # an option ending in a destination, after its parent folders
        parts = Path(option[-1]).parts
        for i in range(2, len(parts)):
            parent = str(Path(*parts[:i]))
            if parent not in made:            # bwrap would make it 0700: the dropped uid could not pass it
                args.extend(["--perms", "0755", "--dir", parent])
                made.add(parent)
        args.extend(option)
        made.add(option[-1])

    args += ["--proc", "/proc", "--dev", "/dev"]
    mount("--perms", "1777", "--size", str(tmp_mb << 20), "--tmpfs", "/tmp")     # first: binds below may be in it
    mount("--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/dev/shm")
    for top in SYSTEM:
        path = Path(top)
        if path.is_symlink():                  # merged /usr: /bin -> usr/bin
            mount("--symlink", os.readlink(top), top)
        elif path.is_dir():
            mount("--ro-bind", top, top)
    for name in ETC:
        mount("--ro-bind-try", f"/etc/{name}", f"/etc/{name}")
    for path in python_paths(packages, python, env):
        mount("--ro-bind", str(path), str(path))
    mpl = f"{HOME}/.cache/matplotlib"
    for folder in (HOME, f"{HOME}/.cache", mpl):
        mount("--perms", "0777", "--dir", folder)
    fonts = _matplotlib_cache()
    if fonts is not None:
        mount("--ro-bind", str(fonts), f"{mpl}/{fonts.name}")
    mount("--bind", runtime, runtime)
    mount("--ro-bind", workdir, SUBMISSION)
    mount("--perms", "0777", "--size", str(tmp_mb << 20), "--tmpfs", workdir)
    args += ["--remount-ro", "/", "--chdir", workdir, "--clearenv"]     # the sandbox's own root: read-only too
    for key, value in sorted(kernel_env(env, bindirs).items()):
        args += ["--setenv", key, value]
    # memory: the data limit counts what a process allocates (heap, private writable mappings: a memory bomb
    # gets MemoryError); the address-space limit is a backstop above the ~4 GB that torch's libraries and
    # reservations take without using them
    limits = ["prlimit", f"--data={memory_mb << 20}", f"--as={(memory_mb + AS_EXTRA_MB) << 20}",
              f"--nproc={max_processes}", f"--cpu={cpu_seconds}", f"--fsize={file_mb << 20}", "--core=0", "--"]
    # inside: copy the submission into the writable working folder (without entries that shadow a module),
    # hand it to the sandbox's uid, drop to that uid, exec the kernel under its limits (its own stdout only
    # carries a start-up banner; cells use the sockets)
    copy = 'cp -R "$0"/. . && ' + "".join(f"rm -rf -- {_sh_quote(e)} && " for e in shadows)
    if uid is None:
        args += ["--", "sh", "-c", copy + 'exec "$@" >/dev/null', SUBMISSION, *limits, *kernel_cmd]
    else:
        args += ["--", "sh", "-c", copy + 'chown -R "$1:$1" . && shift && exec "$@" >/dev/null',
                 SUBMISSION, str(uid), *_drop(uid), *limits, *kernel_cmd]
    # outside: bwrap ignores SIGINT (jupyter_client interrupts a kernel by signalling its whole process group;
    # the kernel handles SIGINT itself while it executes a cell)
    return ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *args]


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


class SandboxKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager with the kernel started in a bwrap sandbox (see the module docstring).

    nbclient / nbgrader's ``Execute`` pass the notebook's folder as ``cwd``: the sandbox shows a writable copy
    of exactly that folder. Limits are configurable, e.g. ``c.SandboxKernelManager.memory_mb = 8192``.
    With ``COURSEKIT_UNSAFE_GRADING=1`` and no working bwrap it behaves as the plain AsyncKernelManager.
    """

    memory_mb = Integer(4096, help="memory each process in the sandbox may allocate (MiB, RLIMIT_DATA)").tag(
        config=True)
    max_processes = Integer(64, help="processes and threads in the sandbox").tag(config=True)
    cpu_seconds = Integer(3600, help="CPU seconds of each process in the sandbox").tag(config=True)
    wall_seconds = Integer(3600, help="the sandbox is killed this long after the kernel starts").tag(config=True)
    file_mb = Integer(256, help="largest file the kernel may write (MiB)").tag(config=True)
    tmp_mb = Integer(512, help="size of the private /tmp and of the working copy (MiB, in memory)").tag(config=True)
    packages = List(Unicode(), ["coursekit"], help="packages whose source folders are shown read-only").tag(
        config=True)

    _runtime: str | None = None
    _watchdog: threading.Timer | None = None

    async def _async_pre_start_kernel(self, **kw):
        self._sandboxed = require()
        if not self._sandboxed:
            return await super()._async_pre_start_kernel(**kw)
        self.transport, self.cache_ports = "ipc", False
        if self._runtime is None:
            base = tempfile.gettempdir() if len(tempfile.gettempdir()) < 40 else "/tmp"
            self._runtime = tempfile.mkdtemp(prefix="ck-sbx-", dir=base)
            # removed by cleanup_resources; and, should nbgrader drop a manager whose kernel died, at the latest
            # when the manager is collected or the grader exits
            weakref.finalize(self, shutil.rmtree, self._runtime, True)
            self.connection_file = os.path.join(self._runtime, "kernel.json")
            self.ip = os.path.join(self._runtime, "k")
        workdir = kw.get("cwd") or os.getcwd()
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)      # writes the connection file
        uid = sandbox_uid()
        if uid is not None:                      # the kernel (that uid) makes its sockets here and reads the file
            os.chown(self._runtime, uid, uid)
            os.chown(self.connection_file, uid, uid)
        kernel_cmd = sandbox_command(kernel_cmd, workdir=workdir, runtime=self._runtime, uid=uid,
                                     env=kw.get("env") or dict(os.environ), memory_mb=self.memory_mb,
                                     max_processes=self.max_processes, cpu_seconds=self.cpu_seconds,
                                     file_mb=self.file_mb, tmp_mb=self.tmp_mb, packages=tuple(self.packages))
        return kernel_cmd, kw

    async def _async_post_start_kernel(self, **kw) -> None:
        await super()._async_post_start_kernel(**kw)
        if getattr(self, "_sandboxed", False) and self.wall_seconds > 0:
            pgid = getattr(self.provisioner, "pgid", None)
            if self._watchdog is not None:
                self._watchdog.cancel()
            self._watchdog = threading.Timer(self.wall_seconds, _kill_group, args=(pgid,))
            self._watchdog.daemon = True
            self._watchdog.start()

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt the cell (SIGINT, as without the sandbox), then end every other process in the sandbox:
        what a cell started does not outlive its time (a fork bomb stops at the cell's timeout)."""
        await super()._async_interrupt_kernel()
        process = getattr(self.provisioner, "process", None)
        if getattr(self, "_sandboxed", False) and process is not None:
            kill_strays(process.pid)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
            if self._runtime is not None:
                shutil.rmtree(self._runtime, ignore_errors=True)
                self._runtime = None

    # AsyncKernelManager binds its public coroutines to KernelManager's functions: point them at the overrides
    interrupt_kernel = _async_interrupt_kernel
    cleanup_resources = _async_cleanup_resources


def _processes() -> dict[int, tuple[int, int]]:
    """{pid: (parent pid, start time)} of every process, from /proc."""
    out: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            out[int(entry.name)] = (int(fields[1]), int(fields[19]))
    return out


def kill_strays(bwrap_pid: int, rounds: int = 50) -> int:
    """SIGKILL every process of the sandbox started by ``bwrap_pid`` except the kernel; returns how many.

    bwrap (outside) -> bwrap (PID 1 inside) -> the kernel (its oldest child); processes the kernel started are
    below it or, once orphaned, below PID 1. Repeated until none is left (a fork bomb keeps forking meanwhile).
    """
    killed = 0
    for _ in range(rounds):
        procs = _processes()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _start) in procs.items():
            children.setdefault(ppid, []).append(pid)
        init = children.get(bwrap_pid, [])
        if len(init) != 1 or not children.get(init[0]):
            return killed
        kernel = min(children[init[0]], key=lambda pid: procs[pid][1])
        strays, todo = [], [p for p in children[init[0]] if p != kernel] + children.get(kernel, [])
        while todo:
            pid = todo.pop()
            strays.append(pid)
            todo += children.get(pid, [])
        if not strays:
            return killed
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def _kill_group(pgid: int | None) -> None:
    """Wall-clock limit reached: SIGKILL the sandbox (bwrap's PID namespace takes every process with it)."""
    if pgid:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
