"""The ``coursekit`` command. Each unit registers its sub-command from its own file in this folder:

    coursekit ddpm train|sample|demo      (ddpm.py)
    coursekit gan ...                     (gan.py)
    coursekit compare ...                 (compare.py)
    coursekit grade ...                   (grade.py)
    coursekit t2i train|sample            (t2i.py)

One convention for every unit (a new unit gets it by using the helpers below; ``tests/test_cli.py`` walks every
sub-command the parser knows and checks it):

- a bad value → one line ``coursekit <unit>: error: <option>: <what was expected>, got <value>`` on stderr, exit 2
  (``UsageError``, argparse's own errors included), always before any work starts;
- any other failure → one line ``coursekit <unit>: error: <Type>: <message>`` and a hint, exit 1; ``--debug``
  (anywhere on the line) shows the traceback;
- Ctrl-C → one line, exit 130, earlier outputs intact (files are written with :func:`staged_outputs` /
  :func:`atomic_path`: to a temporary name in the same folder, moved into place only when the run succeeds);
- a closed pipe (``coursekit … | head``) → a quiet exit;
- one torch thread unless ``--threads N`` (:func:`add_device_options`, applied by :func:`main`);
- help texts list every default (:class:`HelpFormatter` appends them).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

UNITS = ("ddpm", "gan", "compare", "grade", "t2i")
USAGE_EXIT, FAILURE_EXIT, INTERRUPT_EXIT = 2, 1, 130
DEFAULT_THREADS = 1
THREADS_HELP = ("CPU threads for torch (default: 1; these models are too small for intra-op threads to pay, and "
                "on a busy 2-core machine two threads were measured 20-100x slower than one)")


class UsageError(ValueError):
    """A bad command-line value: ``main`` prints ``coursekit <unit>: error: <message>`` on stderr (one line, no
    traceback) and exits 2. The message names the option and what was expected, e.g.
    ``--steps: expected a positive integer, got 0``."""


def set_threads(threads: int | None) -> int:
    """Give torch ``threads`` CPU threads (None: leave torch's choice); returns the count before, so a command
    run in-process (tests, notebooks) can restore it. ``main`` calls it with every unit's ``--threads``."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise UsageError(f"--threads: expected a positive integer, got {threads!r}")
        torch.set_num_threads(threads)
    return before


# ---------------------------------------------------------------------------------------------------------
# argparse value types: each raises ArgumentTypeError("expected …, got …"), shown as "--option: expected …"
# ---------------------------------------------------------------------------------------------------------

def _number(text: str, kind: type, what: str, ok: Callable[[float], bool]):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if (kind is float and not math.isfinite(value)) or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, "a positive integer", lambda v: v >= 1)


def nonnegative_int(text: str) -> int:
    return _number(text, int, "an integer >= 0", lambda v: v >= 0)


def at_least(minimum: int, why: str = "") -> Callable[[str], int]:
    """An int type with a lower bound, e.g. ``at_least(2, "the FD needs a covariance")``."""
    def parse(text: str) -> int:
        return _number(text, int, f"an integer >= {minimum}{f' ({why})' if why else ''}", lambda v: v >= minimum)
    parse.__name__ = f"int>={minimum}"
    return parse


def positive_float(text: str) -> float:
    return _number(text, float, "a finite number > 0", lambda v: v > 0)


def nonnegative_float(text: str) -> float:
    return _number(text, float, "a finite number >= 0", lambda v: v >= 0)


def device_name(text: str) -> str:
    """``--device``: a torch device that exists on this machine (cpu, cuda, cuda:N, mps)."""
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda, cuda:N or mps, got {text!r}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise argparse.ArgumentTypeError(f"CUDA is not available on this machine, got {text!r} (use cpu)")
        if device.index is not None and device.index >= count:
            raise argparse.ArgumentTypeError(f"expected cuda:0..cuda:{count - 1} ({count} GPU(s)), got {text!r}")
    elif device.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise argparse.ArgumentTypeError(f"MPS is not available on this machine, got {text!r} (use cpu)")
    elif device.type != "cpu":
        raise argparse.ArgumentTypeError(f"expected cpu, cuda, cuda:N or mps, got {text!r}")
    return text


# ---------------------------------------------------------------------------------------------------------
# options every unit shares
# ---------------------------------------------------------------------------------------------------------

def files_only(command: Callable[[argparse.Namespace], object]) -> Callable[[argparse.Namespace], int]:
    """A subcommand's ``func`` for a command that writes pictures: matplotlib draws to files (Agg, no display
    needed), the command runs, exit status 0 (errors raise and the entry point turns them into one line)."""
    def run(args: argparse.Namespace) -> int:
        import matplotlib

        matplotlib.use("Agg")
        command(args)
        return 0
    return run


def add_device_options(p: argparse.ArgumentParser) -> None:
    """``--device`` and ``--threads`` (the one default, 1 thread, applied by :func:`main`)."""
    p.add_argument("--device", type=device_name, default=None,
                   help="cpu, cuda, cuda:N or mps (default: cuda when available, else cpu; $COURSEKIT_DEVICE=cpu "
                        "forces the CPU)")
    p.add_argument("--threads", type=positive_int, default=DEFAULT_THREADS, help=THREADS_HELP)


def add_seed_option(p: argparse.ArgumentParser, default: int = 0, what: str = "training and sampling") -> None:
    p.add_argument("--seed", type=nonnegative_int, default=default, help=f"random seed for {what}")


def add_out_option(p: argparse.ArgumentParser, default: str | None, what: str) -> None:
    """``--out``: always a folder, in every unit (``what`` says which files go there)."""
    p.add_argument("--out", metavar="FOLDER", default=default,
                   help=f"output folder for {what}; created if missing")


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """Make sure ``path`` is (or can become) a writable folder, before any work: creates it and writes and
    removes a probe file. Raises UsageError naming ``option``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option}: expected a folder, got the file {str(path)!r}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".coursekit-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"{option}: cannot write to the folder {str(path)!r} ({err.strerror or err})") from None
    return path


def check_out_file(path: str | Path, option: str) -> Path:
    """A file option (e.g. ``--json FILE``): not a folder, and its folder writable. Checked before any work."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option}: expected a file name, got the folder {str(path)!r}")
    check_out_dir(path.parent if str(path.parent) else Path("."), option)
    return path


def _temporary(path: Path) -> Path:
    """A temporary name next to ``path`` that keeps its suffix (matplotlib picks the format from it)."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; write there. On success it replaces ``path`` in one step
    (``os.replace``); on any error or Ctrl-C it is removed and ``path`` keeps its old content."""
    with staged_outputs(Path(path).parent) as stage:
        yield stage(Path(path).name)


@contextlib.contextmanager
def staged_outputs(folder: str | Path) -> Iterator[Callable[[str], Path]]:
    """Write a run's files together: ``stage(name)`` gives a temporary path in ``folder``; when the block
    succeeds every staged file is moved into place, when it fails none is (old results stay as they were)."""
    folder = Path(folder)
    staged: list[tuple[Path, Path]] = []

    def stage(name: str) -> Path:
        final = folder / name
        tmp = _temporary(final)
        staged.append((tmp, final))
        return tmp

    try:
        yield stage
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    with _ctrl_c_deferred():                 # all files or none: a Ctrl-C waits until every file is in place
        for tmp, final in staged:
            if tmp.exists():
                os.replace(tmp, final)


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) until the block is done, then raise KeyboardInterrupt (main thread only)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------------------------
# the parser: one help style, one-line errors
# ---------------------------------------------------------------------------------------------------------

class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written (without RST ``double backquotes``) and every default in the option's help."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return super()._fill_text(text.replace("``", ""), width, indent)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = (action.help or "").replace("``", "")
        if "default" in text or any(action.default is v for v in (None, False, argparse.SUPPRESS)) \
                or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse with the course's conventions: errors raise :class:`UsageError` (``main`` prints one line),
    every sub-parser uses :class:`HelpFormatter`."""

    def __init__(self, *args, **kwargs):
        if kwargs.get("formatter_class") in (None, argparse.HelpFormatter, argparse.RawDescriptionHelpFormatter):
            kwargs["formatter_class"] = HelpFormatter
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise UsageError(self._plain(message))

    def _plain(self, message: str) -> str:
        """argparse's wording → "<option>: expected …, got …"."""
        commands = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
        match = re.match(r"the following arguments are required: (.+)$", message)
        if match and commands and commands[0].metavar in match.group(1):
            return (f"expected a {commands[0].metavar.lower()}: one of {', '.join(commands[0].choices)} "
                    f"(see {self.prog} --help)")
        if match:
            return f"missing {match.group(1)} (see {self.prog} --help)"
        match = re.match(r"argument (.+?): invalid choice: (.+?) \(choose from (.+)\)$", message)
        if match:
            choices = match.group(3).replace("'", "")
            if commands and match.group(1) == commands[0].metavar:       # coursekit nope / coursekit ddpm nope
                return f"expected a {match.group(1).lower()}: one of {choices}, got {match.group(2)}"
            return f"{match.group(1)}: expected one of {choices}, got {match.group(2)}"
        match = re.match(r"unrecognized arguments: (.+)$", message)
        if match:
            return f"unknown option or extra value {match.group(1)} (see {self.prog} --help)"
        match = re.match(r"argument (.+?): (.+)$", message)
        if match:
            return f"{match.group(1)}: {match.group(2)}"
        return message


def build_parser() -> Parser:
    parser = Parser(prog="coursekit", description="Deep generative models course toolkit.\n\nEvery command prints "
                    "one line on stderr for a bad value (exit 2) or a failure (exit 1;\n--debug shows the "
                    "traceback) and exits 130 on Ctrl-C with earlier outputs intact.")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (also accepted after the command)")
    sub = parser.add_subparsers(dest="unit", metavar="UNIT", required=True)
    for unit in UNITS:
        try:
            module = importlib.import_module(f"{__name__}.{unit}")
        except ModuleNotFoundError as err:
            if err.name == f"{__name__}.{unit}":
                continue          # a unit not written yet
            raise
        module.register(sub)
    for action in parser._actions:           # nested commands: a readable name in messages
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                for a in child._actions:
                    if isinstance(a, argparse._SubParsersAction) and a.metavar is None:
                        a.metavar = "COMMAND"
    return parser


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] + (" …" if len(lines) > 1 else "") if lines else ""


def _command(argv: list[str]) -> str:
    """'coursekit ddpm train' for the leading command words of argv (where an unknown option's help is)."""
    parser: argparse.ArgumentParser = build_parser()
    words = ["coursekit"]
    for token in argv:
        commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not commands or token not in commands[0].choices:
            break
        parser = commands[0].choices[token]
        words.append(token)
    return " ".join(words)


def _quiet_stdout() -> None:
    """After a closed pipe: send whatever Python still flushes at exit to /dev/null."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0, 1 failure, 2 usage error, 130 Ctrl-C, 141 closed pipe)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    unit = next((a for a in argv if not a.startswith("-")), None)
    prefix = f"coursekit {unit}" if unit in UNITS else "coursekit"
    threads_before = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:          # --help
            sys.stdout.flush()
            return int(done.code or 0)
        import torch

        threads_before = torch.get_num_threads()
        set_threads(getattr(args, "threads", DEFAULT_THREADS))
        try:
            code = int(args.func(args) or 0)
        except SystemExit as done:          # raise SystemExit("message") in a unit: the same one line, exit 2
            if done.code is None or isinstance(done.code, int):
                raise
            raise UsageError(str(done.code)) from None
        sys.stdout.flush()
        return code
    except UsageError as err:
        if debug:
            traceback.print_exc()
        message = _one_line(err).replace("(see coursekit --help)", f"(see {_command(argv)} --help)")
        print(f"{prefix}: error: {message}", file=sys.stderr)
        return USAGE_EXIT
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print(f"{prefix}: interrupted; files written before are intact, nothing half-written was kept",
              file=sys.stderr)
        # CPython: a Ctrl-C that lands inside code run by exec/eval of a string (dataclasses and torch build
        # functions that way) marks itself "unhandled" even though it is handled here, and `python -m coursekit`
        # then ends by SIGINT (status -2) instead of 130. Evaluating any string clears that mark.
        eval("None")
        return INTERRUPT_EXIT
    except BrokenPipeError:
        _quiet_stdout()
        return 141                          # 128 + SIGPIPE, as a shell tool killed by the closed pipe
    except Exception as err:                # noqa: BLE001 — one line instead of a traceback
        if debug:
            traceback.print_exc()
        print(f"{prefix}: error: {type(err).__name__}: {_one_line(err)}"
              + ("" if debug else " (run with --debug for the traceback)"), file=sys.stderr)
        return FAILURE_EXIT
    finally:
        if threads_before is not None:
            import torch

            torch.set_num_threads(threads_before)   # main() may be called in-process (tests, notebooks)


if __name__ == "__main__":
    sys.exit(main())
