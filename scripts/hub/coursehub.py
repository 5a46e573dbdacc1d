"""The course's JupyterHub, as `bash scripts/hub.sh start` runs it: who may log in, and what each user's server sees.

- :class:`PasswordFileAuthenticator` — the local demo's login: one random password per user (hashed in
  ``state/passwords.json``; the plain ones in ``state/passwords.txt``, root only). The users are system users
  with locked passwords (hub.sh creates them): they can log in to the hub, never to the machine. A real
  course uses its university's login instead (LDAP, OAuth/CAS: docs/hub.md).
- :class:`CourseSpawner` — JupyterHub's ``LocalProcessSpawner`` (one single-user JupyterLab per user, running as
  that Unix user) with each server inside a bubblewrap *view* (:func:`view_command`): the system, the course's
  Python environment and ``coursekit`` read-only, the user's own home, nbgrader's exchange, a private ``/tmp``,
  and nothing else. Unix permissions alone would not do here: the course environment lives inside the
  instructors' clone of the private repository (``.venv``, whose base interpreter may sit in ``/root``) next to
  ``solutions/``; the view shows a student the environment and ``coursekit`` without the rest.
  Each view has its own PID namespace: when the hub stops a server, everything started in it ends.

    python scripts/hub/coursehub.py passwords STATE USER...    # hub.sh: a password for each new user
    python scripts/hub/coursehub.py run STATE USER -- CMD...   # hub.sh run: CMD as USER, in USER's view
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pwd
import secrets
import shutil
import sys
from pathlib import Path

from jupyterhub.auth import Authenticator
from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Integer, Set, Unicode

HUB_DIR = Path(__file__).resolve().parent                 # scripts/hub: this module, the configs, the exchange plugin
REPO = HUB_DIR.parent.parent
# Where things appear inside every view (the same for every user, whatever the host's paths are)
EXCHANGE_VIEW = "/srv/nbgrader/exchange"                  # nbgrader's exchange (c.Exchange.root)
CONFIG_VIEW = "/etc/coursekit-hub/jupyter"                # the role's Jupyter + nbgrader configuration (read-only)
PLUGIN_VIEW = "/opt/coursekit-hub"                        # scripts/hub, for hub_exchange.PrivateSubmit
HOST_PROC_VIEW = "/run/host-proc"                         # instructors only: see _proc_args
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("passwd", "group", "nsswitch.conf", "hosts", "resolv.conf", "localtime", "timezone", "ld.so.cache",
       "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "fonts", "mime.types", "bash.bashrc", "profile",
       "profile.d", "inputrc", "terminfo", "shells", "os-release")
PBKDF2_ROUNDS = 200_000


# --- passwords -------------------------------------------------------------------------------------------------

def _digest(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ROUNDS).hex()


def make_passwords(state: Path, users: list[str]) -> dict[str, str]:
    """A random password for every user in ``users`` who has none yet; returns {user: password} of all users.

    ``passwords.json`` (hashes, read by the hub) and ``passwords.txt`` (plain, for the person running the demo)
    are written atomically, mode 0600."""
    plain_file, hash_file = state / "passwords.txt", state / "passwords.json"
    plain = dict(line.split(" ", 1) for line in plain_file.read_text().splitlines() if " " in line) \
        if plain_file.exists() else {}
    for user in users:
        plain.setdefault(user, secrets.token_urlsafe(12))
    hashes = {}
    for user, password in plain.items():
        salt = secrets.token_bytes(16)
        hashes[user] = {"salt": salt.hex(), "hash": _digest(password, salt)}
    for path, text in ((plain_file, "".join(f"{u} {p}\n" for u, p in sorted(plain.items()))),
                       (hash_file, json.dumps(hashes, indent=1))):
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    return plain


class PasswordFileAuthenticator(Authenticator):
    """Each user logs in with their own password (PBKDF2-SHA256 hashes in ``password_file``): the local demo's
    stand-in for the university's login. ``allowed_users`` is every user in the file."""

    password_file = Unicode(help="JSON {user: {salt, hash}} written by `coursehub.py passwords`").tag(config=True)

    def _entries(self) -> dict:
        return json.loads(Path(self.password_file).read_text())

    async def authenticate(self, handler, data):
        name, password = data.get("username", ""), data.get("password", "")
        entry = self._entries().get(name)
        if entry is None:
            return None
        ok = hmac.compare_digest(_digest(password, bytes.fromhex(entry["salt"])), entry["hash"])
        return name if ok else None


# --- the view ----------------------------------------------------------------------------------------------------

def course_python_paths(python: str) -> list[Path]:
    """Folders the course's interpreter needs, read-only: its environment, its base interpreter and coursekit's
    source folder (asked of that interpreter, as the grading sandbox asks it: coursekit.grading.sandbox)."""
    from coursekit.grading import sandbox

    return sandbox.python_paths(("coursekit",), python=python, env={"PATH": os.environ.get("PATH", "")})


def _proc_args(instructor: bool) -> list[str]:
    """A /proc of the view's own PID namespace. bwrap (as root) covers parts of it read-only, and Linux lets an
    unprivileged process mount a new /proc — what the grading sandbox does for every kernel it starts — only
    where some proc mount is fully visible: instructors, who grade, also get the host's at HOST_PROC_VIEW."""
    args = ["--proc", "/proc"]
    return [*args, "--bind", "/proc", HOST_PROC_VIEW] if instructor else args


def _parent_dirs(args: list[str], skip: tuple[str, ...] = ()) -> list[str]:
    """``--perms 0755 --dir`` for every folder above a mount point of ``args``: bwrap (as root) makes the
    missing ones 0700, which would hide /etc, the course's environment and /home from the user."""
    targets = [args[i + 2] for i, a in enumerate(args) if a in ("--ro-bind", "--ro-bind-try", "--bind", "--symlink")]
    parents = sorted({str(parent) for t in targets for parent in Path(t).parents if str(parent) not in ("/", *skip)},
                     key=lambda p: (p.count("/"), p))
    return [a for parent in parents for a in ("--perms", "0755", "--dir", parent)]


def view_command(user: str, cmd: list[str], *, home: str, exchange: str, instructor: bool, python: str,
                 tmp_mb: int = 1024) -> list[str]:
    """``cmd`` run as Unix user ``user`` inside the user's view (bwrap, started as root, drops to the user with
    setpriv): read-only system, course environment, coursekit and the role's configuration; the user's home
    (read-write); the exchange; private /tmp and /dev/shm; own PID, IPC and UTS namespaces. The network is the
    host's (the hub's proxy reaches the server on 127.0.0.1)."""
    entry = pwd.getpwnam(user)
    role = "instructor" if instructor else "student"
    args = ["bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session",
            "--dev", "/dev", *_proc_args(instructor),
            "--size", str(tmp_mb << 20), "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
    for top in SYSTEM:
        if os.path.islink(top):                      # merged /usr: /bin -> usr/bin
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for path in course_python_paths(python):
        args += ["--ro-bind", str(path), str(path)]
    args += ["--ro-bind", str(HUB_DIR / "jupyter" / role), CONFIG_VIEW,
             "--ro-bind", str(HUB_DIR), PLUGIN_VIEW,
             "--bind", exchange, EXCHANGE_VIEW,
             "--bind", entry.pw_dir, entry.pw_dir,
             "--chdir", entry.pw_dir]
    # after the private /tmp and /dev/shm: a course cloned under /tmp (CI's checkouts) needs its folders made
    # 0755 inside the new tmpfs, or bwrap makes them 0700 and the user cannot reach the course's environment
    after_tmpfs = args.index("/dev/shm", args.index("--size")) + 1
    args[after_tmpfs:after_tmpfs] = _parent_dirs(args, skip=("/tmp", "/dev/shm"))
    drop = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--no-new-privs",
            "--"]
    return [shutil.which("bwrap") or "bwrap", *args[1:], "--", *drop, *cmd]


def view_env(user: str, python: str) -> dict[str, str]:
    """The variables every process in a view starts with (the hub adds its own JUPYTERHUB_* ones)."""
    entry = pwd.getpwnam(user)
    return {"USER": user, "LOGNAME": user, "HOME": entry.pw_dir, "SHELL": entry.pw_shell or "/bin/bash",
            "PATH": os.pathsep.join([str(Path(python).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "JUPYTER_CONFIG_PATH": CONFIG_VIEW, "LANG": "C.UTF-8", "TMPDIR": "/tmp",
            "OMP_NUM_THREADS": "1", "PYTHONNOUSERSITE": "1"}


class CourseSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose servers run as their Unix user inside the user's view (:func:`view_command`).

    The hub (root) starts bwrap, which drops to the user with setpriv; stopping the server signals bwrap, and
    the view's PID namespace ends with it, kernels and terminals included."""

    instructors = Set(help="users who get the instructor's view (Formgrader, the course folder)").tag(config=True)
    exchange = Unicode(help="host folder of nbgrader's exchange, shown at " + EXCHANGE_VIEW).tag(config=True)
    python = Unicode(sys.executable, help="the course environment's interpreter").tag(config=True)
    tmp_mb = Integer(1024, help="size of each view's private /tmp (MiB)").tag(config=True)

    def make_preexec_fn(self, name):
        return None                       # bwrap needs root to build the view; setpriv drops to the user inside

    def user_env(self, env):
        env.update(view_env(self.user.name, self.python))
        return env

    async def start(self):
        entry = pwd.getpwnam(self.user.name)
        self.cmd = view_command(self.user.name, [self.python, "-m", "jupyterhub.singleuser"], home=entry.pw_dir,
                                exchange=self.exchange, instructor=self.user.name in self.instructors,
                                python=self.python, tmp_mb=self.tmp_mb)
        return await super().start()


# --- command line (hub.sh) ---------------------------------------------------------------------------------------

def _run(state: Path, user: str, cmd: list[str]) -> int:
    """``cmd`` as ``user`` in that user's view, as their server runs (hub.sh run: set-up steps, a shell)."""
    settings = json.loads((state / "hub.json").read_text())
    entry = pwd.getpwnam(user)
    full = view_command(user, cmd, home=entry.pw_dir, exchange=settings["exchange"],
                        instructor=user in settings["instructors"], python=settings["python"])
    env = view_env(user, settings["python"])
    env["TERM"] = os.environ.get("TERM", "xterm")
    os.execvpe(full[0], full, env)


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "passwords":
        make_passwords(Path(argv[1]), argv[2:])
        return 0
    if len(argv) >= 5 and argv[0] == "run" and argv[3] == "--":
        return _run(Path(argv[1]), argv[2], argv[4:])
    print("usage: coursehub.py passwords STATE USER... | run STATE USER -- CMD...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
