"""Similar submissions, and answers that copy coursekit's own source: normalised-token k-gram fingerprints.

The run-time reference check (:func:`coursekit.grading.no_reference`) catches an answer that *calls* the reference;
it cannot catch one that *copies* it (pasted, renamed, comments removed). Nor can any test see two students
handing in one answer. Both are found by comparing code, the way MOSS and JPlag do:

1. **normalise**: Python's tokenizer; comments, docstrings and layout dropped; every identifier becomes ``N``,
   every number ``0``, every string ``S`` (renaming variables or reformatting changes nothing); keywords,
   operators and attribute-free structure stay;
2. **fingerprint**: the set of hashes of every run of ``K`` consecutive tokens;
3. **subtract the template**: fingerprints of the release's own answer cell (the code given to everyone) are
   dropped, so two students are not similar for what they were handed;
4. **compare**: the overlap of two fingerprint sets over the smaller one (containment: a short answer pasted
   into a longer one still scores 1).

Students are compared answer cell by answer cell, over the parts where both wrote at least ``MIN_FINGERPRINTS``
fingerprints of their own; a pair is reported when the fingerprints they share over all such parts, over the
smaller side, reach :data:`THRESHOLD`. Each function an answer defines (``MIN_FUNCTION_FINGERPRINTS`` or more of
its own) is compared with every function and method of coursekit's source: reported when that share of its own
fingerprints appears in one of them. The threshold is set on the fairness classes' independently written correct
submissions (tests/test_fairness_*.py, four or more styles per assignment, plus the reference solution):
``python bench/bench_grading.py --similarity`` prints their distribution, and tests/test_grading_report.py checks
that no independent pair reaches it while a renamed copy does.
"""

from __future__ import annotations

import ast
import hashlib
import io
import keyword
import tokenize
from dataclasses import dataclass
from pathlib import Path

K = 12                     # tokens per fingerprint: about one line of code
MIN_FINGERPRINTS = 12      # a student's own code in a part: smaller is too short to tell copying from convention
MIN_FUNCTION_FINGERPRINTS = 20   # a function compared with coursekit's (a 5-line forward() matches boilerplate)
THRESHOLD = 0.8            # chosen on the fairness classes: bench/bench_grading.py --similarity
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def tokens(source: str) -> list[str]:
    """The normalised token stream of Python source (see the module docstring); [] when it does not tokenize."""
    out: list[str] = []
    line_start = True                        # a string that starts a statement is a docstring: dropped
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text = tok.type, tok.string
            if kind in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                line_start = True
                continue
            if kind in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
                continue
            if kind == tokenize.STRING:
                if not line_start:
                    out.append("S")
            elif kind == tokenize.NUMBER:
                out.append("0")
            elif kind == tokenize.NAME:
                out.append(text if keyword.iskeyword(text) else "N")
            else:
                out.append(text)
            line_start = False
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    return out


def fingerprints(source: str, k: int = K) -> set[int]:
    """Hashes of every k consecutive normalised tokens."""
    toks = tokens(source)
    if len(toks) < k:
        return set()
    return {int.from_bytes(hashlib.blake2b(" ".join(toks[i:i + k]).encode(), digest_size=8).digest(), "big")
            for i in range(len(toks) - k + 1)}


def containment(a: set[int], b: set[int]) -> float:
    """|a ∩ b| / min(|a|, |b|) (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def functions(source: str) -> dict[str, str]:
    """{qualified name: source} of every function and method defined in ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    out = {}

    def visit(node, prefix=""):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out[prefix + child.name] = ast.get_source_segment(source, child) or ""
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")

    visit(tree)
    return out


@dataclass
class Pair:
    a: str
    b: str
    score: float                              # shared fingerprints over the smaller side, over the parts compared
    parts: dict[str, float]                   # per part: containment


@dataclass
class Copy:
    student: str
    part: str
    function: str
    source: str                               # "coursekit.<module>.<qualified name>"
    score: float


def own_fingerprints(answers: dict[str, str], templates: dict[str, str] | None = None) -> dict[str, set[int]]:
    """{part: fingerprints of the student's own code} (the template's removed; parts too small dropped)."""
    out = {}
    for part, source in answers.items():
        prints = fingerprints(source) - fingerprints((templates or {}).get(part, ""))
        if len(prints) >= MIN_FINGERPRINTS:
            out[part] = prints
    return out


def pair_score(a: dict[str, set[int]], b: dict[str, set[int]]) -> tuple[float, dict[str, float]]:
    """Similarity of two students over the parts both wrote: (shared / smaller side over all parts, per part)."""
    common = sorted(set(a) & set(b))
    if not common:
        return 0.0, {}
    shared = sum(len(a[p] & b[p]) for p in common)
    smaller = sum(min(len(a[p]), len(b[p])) for p in common)
    return shared / smaller, {p: containment(a[p], b[p]) for p in common}


def similar_pairs(submissions: dict[str, dict[str, str]], templates: dict[str, str] | None = None,
                  threshold: float = THRESHOLD) -> list[Pair]:
    """Pairs of students at or above ``threshold`` (highest first). ``submissions``: {student: {part: source}}."""
    prints = {s: own_fingerprints(answers, templates) for s, answers in submissions.items()}
    names = sorted(prints)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            score, parts = pair_score(prints[a], prints[b])
            if score >= threshold:
                pairs.append(Pair(a, b, score, parts))
    return sorted(pairs, key=lambda p: (-p.score, p.a, p.b))


def package_functions(package_dir: Path = PACKAGE_DIR) -> dict[str, set[int]]:
    """{"coursekit.<module>.<function>": fingerprints} of every function and method of the package's source (the
    grading helpers excluded: answers never implement those)."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir.parent).with_suffix("")
        if "grading" in rel.parts or "__pycache__" in rel.parts:
            continue
        module = ".".join(rel.parts)
        for name, source in functions(path.read_text(encoding="utf-8")).items():
            prints = fingerprints(source)
            if len(prints) >= MIN_FINGERPRINTS:     # a copy is compared by its own size, not this one's
                out[f"{module}.{name}"] = prints
    return out


def copies_of_package(submissions: dict[str, dict[str, str]], templates: dict[str, str] | None = None,
                      threshold: float = THRESHOLD, package: dict[str, set[int]] | None = None) -> list[Copy]:
    """Functions in answers whose own fingerprints are at least ``threshold`` contained in one of coursekit's
    functions (the best match per function), highest first."""
    package = package_functions() if package is None else package
    found = []
    for student, answers in submissions.items():
        for part, source in answers.items():
            template = fingerprints((templates or {}).get(part, ""))
            for name, body in functions(source).items():
                mine = fingerprints(body) - template
                if len(mine) < MIN_FUNCTION_FINGERPRINTS:
                    continue
                best, where = 0.0, ""
                for ref, prints in package.items():
                    score = len(mine & prints) / len(mine)
                    if score > best:
                        best, where = score, ref
                if best >= threshold:
                    found.append(Copy(student, part, name, where, best))
    return sorted(found, key=lambda c: (-c.score, c.student, c.part))


def answer_sources(nb) -> dict[str, str]:
    """{grade_id: source} of the code answer cells of a notebook (nbformat node or dict)."""
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.get("cell_type") == "code" and meta.get("solution") and meta.get("grade_id"):
            source = cell.get("source", "")
            out[meta["grade_id"]] = source if isinstance(source, str) else "".join(source)
    return out
