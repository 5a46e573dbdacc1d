"""Write the public student tree: what students may see, and nothing that gives an answer away.

This repository is the instructors' (private): it holds the solutions with their hidden tests (``solutions/``),
the exercise answers (``docs/answers/``), the grading guide (``docs/instructor.md``) and several complete
alternative solutions per assignment (``tests/test_fairness_*.py``). Students get a separate public repository,
written by this script from an allow-list:

    coursekit/            the package (reference code students read and call where a part allows it)
    notebooks/zh, notebooks/en   the lecture notebooks, both editions
    assignments/          the releases nbgrader generated (no solution, no hidden test)
    docs/*.md             the public guides (never answers/ or instructor.md)
    README.md, pyproject.toml, environment.yml, scripts/setup.sh, LICENSE*

Every notebook's Colab badge and install cell name one repository, ``[tool.coursekit.colab] repository`` in
pyproject.toml (``python notebooks/build.py`` writes them): set it to the *public* repository and rebuild the
notebooks; this script refuses to publish notebooks that point elsewhere.

Before anything is written, the tree is checked (and nothing is written if the check fails): no private path, and
not one "secret line" in any file — a line (20 characters or more) of a solution or hidden-test block, of an
exercise answer file, or of a fairness class's submissions, that appears in no public-by-design material (the
coursekit source, the lecture notebooks, the releases: their template code and signatures are what every student
gets; tests/test_assignment_*.py check that no solution line reaches a release).

    python scripts/publish_student.py ../course-public            # writes the tree (refuses to overwrite one)
    python scripts/publish_student.py ../course-public --git       # ... and commits it there (git init if needed)
    python scripts/publish_student.py --check                     # only the checks, nothing written
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INCLUDE = ["coursekit/**", "notebooks/zh/*.ipynb", "notebooks/en/*.ipynb", "assignments/**", "docs/*.md",
           "README.md", "pyproject.toml", "environment.yml", "scripts/setup.sh", "LICENSE*"]
PRIVATE = ["solutions/**", "docs/answers/**", "docs/instructor.md", "tests/**", "bench/**", "nbgrader_config.py",
           "gradebook.db", "submitted/**", "autograded/**", "feedback/**", "downloaded/**", "reports/**",
           "**/__pycache__/**", "**/*.pyc", "**/.ipynb_checkpoints/**", "*.egg-info/**", "**/.coursekit/**"]
MIN_SECRET = 20            # shorter lines (imports, "return x") occur anywhere


class PublishError(RuntimeError):
    """The public tree would leak, or could not be written (one line)."""


def _match(rel: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or (p.endswith("/**") and (rel + "/").startswith(p[:-2])) for p in patterns)


def tracked_files(repo: Path = REPO) -> list[str]:
    """The repository's files as git knows them (tracked), else every file; relative, '/'-separated."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file()]
    return sorted(n for n in names if (repo / n).is_file())


def public_files(repo: Path = REPO) -> list[str]:
    """The allow-listed files minus anything private."""
    return [n for n in tracked_files(repo) if _match(n, INCLUDE) and not _match(n, PRIVATE)]


def _lines(text: str) -> set[str]:
    """Lines long enough to mean something (a table rule "|---|---|" or a row of "=" says nothing)."""
    return {line.strip() for line in text.splitlines()
            if len(line.strip()) >= MIN_SECRET and sum(ch.isalnum() for ch in line) >= MIN_SECRET // 2}


def _notebook_text(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c.get("source", "")) for c in nb.get("cells", []))


def _blocks(source: str, begin: str, end: str) -> list[str]:
    out, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            out.append(line)
    return out


def _string_constants(path: Path) -> list[str]:
    """String literals of a Python file (a fairness class's submissions are strings)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value:
            out.append(node.value)
    return out


def secret_lines(repo: Path = REPO) -> dict[str, str]:
    """{line: where it comes from} for every line that would give an answer away (see the module docstring)."""
    public_by_design: set[str] = set()
    for path in (repo / "coursekit").rglob("*.py"):
        public_by_design |= _lines(path.read_text(encoding="utf-8"))
    for edition in ("zh", "en"):
        for path in (repo / "notebooks" / edition).glob("*.ipynb"):
            public_by_design |= _lines(_notebook_text(path))
    for path in (repo / "assignments").glob("*/*.ipynb"):       # the releases (tests/test_assignment_*.py check
        public_by_design |= _lines(_notebook_text(path))         # that no solution line reaches them)
    secrets: dict[str, str] = {}

    def add(lines: set[str], where: str) -> None:
        for line in lines - public_by_design:
            secrets.setdefault(line, where)

    for path in sorted((repo / "solutions").glob("*/*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        sources = ["".join(c.get("source", "")) for c in nb["cells"]]
        hidden = [line for s in sources for pair in (("### BEGIN SOLUTION", "### END SOLUTION"),
                                                    ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
                  for line in _blocks(s, *pair)]
        visible = "\n".join(re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END (SOLUTION|HIDDEN TESTS)", "", s,
                                   flags=re.S) for s in sources)
        add(_lines("\n".join(hidden)) - _lines(visible), str(path.relative_to(repo)))
    for path in sorted((repo / "docs" / "answers").glob("*.md")):
        add(_lines(path.read_text(encoding="utf-8")), str(path.relative_to(repo)))
    for path in [*sorted((repo / "tests").glob("test_fairness_*.py")),
                 *sorted((repo / "tests" / "fixtures" / "submissions").glob("*.py"))]:    # the classes' submissions
        add(_lines("\n".join(_string_constants(path))), str(path.relative_to(repo)))
    return secrets


def leaks(tree: Path, files: list[str], secrets: dict[str, str]) -> list[tuple[str, str, str]]:
    """(file, secret line, where the line comes from) for every secret line found in the tree's text files."""
    found = []
    for name in files:
        try:
            text = (tree / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue                                  # binary (a checkpoint)
        if name.endswith(".ipynb"):
            text = text + "\n" + _notebook_text(tree / name)   # the sources as lines, not as JSON strings
        lines = {line.strip() for line in text.splitlines()}
        found += [(name, s, secrets[s]) for s in lines & secrets.keys()]
    return found


def colab_repository(repo: Path = REPO) -> tuple[str, str]:
    """[tool.coursekit.colab] repository and branch of pyproject.toml."""
    try:
        import tomllib
    except ModuleNotFoundError:                       # Python 3.10
        import tomli as tomllib
    data = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    colab = data["tool"]["coursekit"]["colab"]
    return colab["repository"], colab["branch"]


def wrong_colab_links(tree: Path, files: list[str], repository: str) -> list[str]:
    """Notebooks whose Colab badge or install cell names another repository than ``repository``."""
    bad = []
    pattern = re.compile(r"(?:colab\.research\.google\.com/github/|git\+https://github\.com/)([\w.-]+/[\w.-]+?)"
                         r"(?:/blob|@|\.git|\")")
    for name in files:
        if name.endswith(".ipynb") and name.startswith("notebooks/"):
            named = set(pattern.findall(_notebook_text(tree / name)))
            if named - {repository}:
                bad.append(f"{name} names {sorted(named - {repository})[0]}")
    return bad


def check(repo: Path = REPO) -> tuple[list[str], dict[str, str]]:
    """(the public files, the secret lines) after every check; PublishError naming the first problem."""
    files = public_files(repo)
    private = [n for n in files if _match(n, PRIVATE)]
    if private:
        raise PublishError(f"a private file is on the allow-list: {private[0]}")
    secrets = secret_lines(repo)
    found = leaks(repo, files, secrets)
    if found:
        name, line, where = found[0]
        raise PublishError(f"{name} holds a line of {where} ({line[:60]!r}); {len(found)} such line(s) in all")
    repository, _ = colab_repository(repo)
    bad = wrong_colab_links(repo, files, repository)
    if bad:
        raise PublishError(f"{bad[0]}, not [tool.coursekit.colab] repository = {repository!r}: set it to the public "
                           "repository and rebuild the notebooks (python notebooks/build.py)")
    return files, secrets


def publish(out: Path, repo: Path = REPO, git: bool = False) -> list[str]:
    """Check, then write the public tree to ``out`` (which must not exist, or be an earlier public tree: a git
    checkout whose files are replaced). Returns the files written."""
    files, _ = check(repo)
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / ".coursekit-public").is_file():
        raise PublishError(f"out: {str(out)!r} exists and is not a tree this script wrote (no .coursekit-public)")
    with tempfile.TemporaryDirectory(prefix="publish-", dir=out.parent if out.parent.exists() else None) as tmp:
        stage = Path(tmp) / "tree"
        for name in files:
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / name, stage / name)
        (stage / ".coursekit-public").write_text("written by scripts/publish_student.py from the instructors' "
                                                 "repository; do not edit here\n", encoding="utf-8")
        found = leaks(stage, files, secret_lines(repo))        # the copy itself, once more
        if found:
            raise PublishError(f"the written copy of {found[0][0]} holds a line of {found[0][2]}")
        out.mkdir(parents=True, exist_ok=True)
        for old in list(out.iterdir()):                         # an earlier public tree: replace its files
            if old.name != ".git":
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        for item in stage.iterdir():
            shutil.move(str(item), out / item.name)
    if git:
        run = lambda *a: subprocess.run(["git", *a], cwd=out, check=True, capture_output=True)  # noqa: E731
        if not (out / ".git").exists():
            run("init", "-q")
        run("add", "-A")
        run("-c", "user.name=coursekit", "-c", "user.email=coursekit@localhost", "commit", "-q", "--allow-empty",
            "-m", "public student tree (scripts/publish_student.py)")
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", nargs="?", help="folder for the public tree (new, or one this script wrote before)")
    p.add_argument("--git", action="store_true", help="commit the tree in OUT (git init if it is no repository)")
    p.add_argument("--check", action="store_true", help="only run the checks; write nothing")
    args = p.parse_args(argv)
    if not args.check and not args.out:
        print("publish_student.py: error: out: expected a folder (or --check)", file=sys.stderr)
        return 2
    try:
        if args.check:
            files, secrets = check()
            print(f"{len(files)} public files; none holds any of {len(secrets)} secret lines")
        else:
            files = publish(Path(args.out), git=args.git)
            print(f"{len(files)} files written to {args.out}")
    except PublishError as err:
        print(f"publish_student.py: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
