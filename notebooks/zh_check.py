"""Find English-only prose in the Chinese edition: code comments, printed or plotted strings, printed output.

    python notebooks/zh_check.py                 # counts per notebook and assignment, then every finding
    python notebooks/zh_check.py --counts        # counts only

A Chinese student reads the zh edition's code cells too, so every prose comment and every message a cell prints
or draws must be in Chinese (bilingual "中文 / English" is fine: the assignments write their hints that way). Code
stays code: identifiers, commented-out code, units, formulas and proper names (PixelCNN, DDPM, Adam, …) are not
prose. What counts as English prose: no Chinese character, and lower-case English words of three letters or more
that are not names used in the cell's code — at least two in a comment (a lone word there is usually a name), at
least one in a string shown to the student or a printed line.

Checked (tests/test_zh_edition.py):
- comments in the code cells of ``notebooks/zh/*.ipynb`` and of the assignments' release notebooks;
- string literals handed to what shows text — ``print``, ``say``'s Chinese half, ``set_title``, ``set_xlabel``,
  ``set_ylabel``, ``suptitle``, ``text``, ``annotate``, ``legend``, ``label=``/``title=``/``description=`` keywords,
  ``assert`` messages and raised errors' messages;
- the stdout of the executed zh notebooks (what coursekit itself printed included).
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
WORD = re.compile(r"(?<![A-Za-z_\d./\\-])([a-z]{3,})(?![A-Za-z_\d(/\\-])")
MIN_WORDS = {"comment": 2, "string": 1, "output": 1}
SHOWS_TEXT = {"print", "set_title", "set_xlabel", "set_ylabel", "suptitle", "text", "annotate", "legend",
              "set_text", "HTML", "Markdown", "Label", "warn"}
TEXT_KEYWORDS = {"label", "title", "description", "xlabel", "ylabel", "tooltip", "placeholder", "msg", "message"}
# words that are names, not English prose, wherever they appear (units, libraries, the course's own terms)
NOT_PROSE = {
    "cpu", "gpu", "cuda", "colab", "numpy", "torch", "pytorch", "nbgrader", "jupyter", "ipywidgets", "matplotlib",
    "bits", "dim", "nats", "nat", "bpd", "logit", "logits", "softmax", "relu", "tanh", "sigmoid", "softplus",
    "adam", "adamw", "sgd", "cosine", "linear", "quadratic", "eps", "min", "max", "mean", "std", "var", "exp",
    "log", "sqrt", "argmax", "argmin", "sin", "cos", "lr", "rgb", "png", "svg", "ipynb", "pix2pix", "http",
    "https", "www", "github", "com", "org", "true", "false", "none", "nan", "inf", "zh", "en", "lang", "seed",
    "seeds", "ring8", "grid25", "moons", "swissroll", "digits", "cond", "uncond", "unet", "mlp", "film", "ddpm",
    "ddim", "vae", "cvae", "gan", "cgan", "dcgan", "pacgan", "iwae", "elbo", "kid", "fid", "jsd", "ema", "snr",
    "it", "ms", "sec", "str", "int", "float", "dict", "list", "tuple", "def", "return", "lambda", "import", "from",
    "self", "cls", "args", "kwargs", "shape", "dtype", "device", "ndim", "numel", "item", "detach", "clone",
    "backward", "step", "zero_grad", "grad", "noqa", "type", "ignore", "pragma", "fmt", "off", "on", "etc",
}


@dataclass(frozen=True)
class Finding:
    where: str          # notebook (and cell)
    kind: str           # "comment", "string" or "output"
    text: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.text.strip()[:110]}"


def prose_words(text: str, names: set[str] = frozenset()) -> list[str]:
    """The English prose words of ``text`` (lower-case words of ≥ 3 letters that are no name of the code)."""
    text = re.sub(r"\{[^{}]*\}", " ", text)                       # f-string fields and format fields
    text = re.sub(r"`[^`]*`|https?://\S+", " ", text)             # inline code, addresses
    return [w for w in WORD.findall(text) if w not in NOT_PROSE and w not in names]


def is_english_prose(text: str, names: set[str] = frozenset(), kind: str = "comment") -> bool:
    return not CJK.search(text) and len(prose_words(text, names)) >= MIN_WORDS[kind]


def _names(code: str) -> set[str]:
    """Identifiers (and their parts split at '_') used by the code: a comment naming them is not prose."""
    try:
        tokens = tokenize.generate_tokens(io.StringIO(_python(code)).readline)
        found = {t.string for t in tokens if t.type == tokenize.NAME}
    except (tokenize.TokenError, IndentationError, SyntaxError):
        found = set()
    return {p.lower() for name in found for p in [name, *name.split("_")] if p}


def _is_code(comment: str) -> bool:
    """A commented-out line of code (``# BIG = True``, ``# x = f(y)``) rather than prose."""
    body = comment.lstrip("#").strip()
    if not body or not re.search(r"[=()\[\]]", body):
        return False
    try:
        ast.parse(body)
        return True
    except SyntaxError:
        return False


def _python(code: str) -> str:
    """The cell with IPython magics and shell lines blanked (so tokenize and ast read the rest)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.split("\n"))


def comments(code: str) -> list[str]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(_python(code)).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    return [t.string for t in tokens if t.type == tokenize.COMMENT]


def _strings(node: ast.AST) -> list[str]:
    """The literal text parts of a str constant or f-string (formatted fields left out)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))]
    if isinstance(node, ast.BinOp):                                 # "a" + "b", "..." % x
        return _strings(node.left) + _strings(node.right)
    if isinstance(node, (ast.Tuple, ast.List)):
        return [s for elt in node.elts for s in _strings(elt)]
    return []


def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def shown_strings(code: str) -> list[str]:
    """String literals the code prints, draws or raises, as the module docstring lists."""
    try:
        tree = ast.parse(_python(code))
    except SyntaxError:
        return []
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name == "say" and node.args:                        # say(zh, en): the Chinese half must be Chinese
                out += _strings(node.args[0])
            elif name in SHOWS_TEXT:
                for arg in node.args:
                    out += _strings(arg)
            out += [s for kw in node.keywords if kw.arg in TEXT_KEYWORDS for s in _strings(kw.value)]
        elif isinstance(node, ast.Assert) and node.msg is not None:
            out += _strings(node.msg)
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for arg in node.exc.args:
                out += _strings(arg)
    return out


def check_code(code: str, where: str) -> list[Finding]:
    names = _names(code)
    found = [Finding(where, "comment", c) for c in comments(code)
             if not _is_code(c) and is_english_prose(c.lstrip("#"), names, "comment")]
    found += [Finding(where, "string", s) for s in shown_strings(code) if is_english_prose(s, names, "string")]
    return found


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def check_notebook(path: Path, skip_first: int = 0) -> list[Finding]:
    """Comments and shown strings of every code cell (the first ``skip_first`` cells are generated)."""
    found = []
    for i, cell in enumerate(_cells(path)[skip_first:], start=skip_first):
        if cell["cell_type"] == "code":
            found += check_code("".join(cell["source"]), f"{path.name}[{i}]")
    return found


def check_output(path: Path) -> list[Finding]:
    """Lines an executed notebook printed on stdout that are English prose only."""
    found = []
    for i, cell in enumerate(_cells(path)):
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                found += [Finding(f"{path.name}[{i}]", "output", line)
                          for line in "".join(out.get("text", "")).split("\n") if is_english_prose(line, kind="output")]
    return found


def zh_notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks" / "zh").glob("*.ipynb"))


def assignment_notebooks() -> list[Path]:
    return sorted((ROOT / "assignments").glob("*/*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", action="store_true", help="print the counts only")
    args = parser.parse_args(argv)
    everything: list[Finding] = []
    for path in zh_notebooks() + assignment_notebooks():
        found = check_notebook(path, skip_first=2 if path.parent.name == "zh" else 0)
        print(f"{path.relative_to(ROOT)}: {len(found)}")
        everything += found
    if not args.counts:
        print()
        print("\n".join(map(str, everything)))
    return 1 if everything else 0


if __name__ == "__main__":
    sys.exit(main())
