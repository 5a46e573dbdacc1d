"""The fairness classes' independently written correct submissions, read from tests/test_fairness_*.py: the data the
similarity threshold of coursekit.grading.similarity is set on (bench/bench_grading.py --similarity prints the
distribution; tests/test_grading_report.py checks the threshold against it).

    answers = independent_answers("ddpm")        # {style: {grade_id: source}} (the reference solution included)
    templates = release_templates("ddpm")        # {grade_id: the release's answer cell}
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ("pixelcnn", "vae", "ddpm", "gan", "conditional", "flow")


def _answer_ids(nb) -> set[str]:
    return {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def _cells(nb) -> dict[str, str]:
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def release_templates(assignment: str) -> dict[str, str]:
    return _cells(nbformat.read(REPO / "assignments" / assignment / f"{assignment}.ipynb", as_version=4))


def reference_answers(assignment: str) -> dict[str, str]:
    return _cells(nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4))


def _load(path: Path):
    name = f"_fairness_{path.stem}"
    if name not in sys.modules:
        if str(REPO / "tests") not in sys.path:
            sys.path.insert(0, str(REPO / "tests"))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _modules(assignment: str) -> list:
    """The modules that hold an assignment's fairness submissions: tests/fixtures/submissions/<a>_fairness.py
    (where a class shared by several test modules keeps them) and tests/test_fairness_<a>.py."""
    paths = [REPO / "tests" / "fixtures" / "submissions" / f"{assignment}_fairness.py",
             REPO / "tests" / f"test_fairness_{assignment}.py"]
    return [_load(p) for p in paths if p.is_file()]


def _module(assignment: str):
    """The module with the one-bug submissions (WRONG) and the template helpers of the assignment's class."""
    modules = _modules(assignment)
    return next((m for m in modules if hasattr(m, "WRONG")), modules[-1])


def independent_answers(assignment: str) -> dict[str, dict[str, str]]:
    """{style: {grade_id: source}}: every module-level dict of the fairness class whose keys are answer cells of the
    assignment (a style, possibly for some parts only), and the reference solution as "reference"."""
    ids = _answer_ids(nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4))
    found: dict[int, tuple[str, dict[str, str]]] = {}

    def consider(name: str, value) -> None:
        if (isinstance(value, dict) and value and set(value) <= ids
                and all(v is None or isinstance(v, str) for v in value.values())):
            found.setdefault(id(value), (name.lower(), {k: v for k, v in value.items() if v}))

    for module in _modules(assignment):
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, dict):
                consider(name, value)
                for key, inner in value.items():      # CORRECT = {"style": {...}}
                    consider(str(key), inner)
    styles = {name: answers for name, answers in found.values() if answers}
    styles["reference"] = reference_answers(assignment)
    return styles
