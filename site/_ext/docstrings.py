"""coursekit's docstrings on the API page: reStructuredText as written, with the few plain-text habits that
reST reads otherwise put right (hooked on autodoc's ``autodoc-process-docstring``).

- a formula or code indented by 4+ spaces (``p_θ(x | y) = ∫ …``, a usage example) becomes a literal block, so its
  lines keep their layout instead of running together (or raising "Unexpected indentation");
- lines laid out in columns (``Evidence lower bound:      log p_θ(x) ≥ ELBO = …``, two or more in a row) are a
  literal block too;
- a list that starts right under a paragraph gets the blank line reST needs;
- ``|x|`` (an absolute value) is not a substitution reference, and a lone ``*`` (``*x0.shape``,
  ``feedback/*.html``) is not the start of an emphasis: both are escaped, outside ````literals````;
- each parameter of a function, method or class gets a "Parameters" entry: its type (from the annotation, by
  ``autodoc_typehints = "description"``) and the docstring's own sentence(s) that name it (````seconds```` …,
  ``x0: images …``), else its default. The docstrings describe parameters in prose; this lists them where a
  reader looks.
"""

from __future__ import annotations

import inspect
import re

BULLET = re.compile(r"([-*+]|\d+[.)])\s")
LITERAL = re.compile(r"(``.+?``|`[^`]+`)")                    # ``code`` and :role:`target`: left alone
ABSOLUTE = re.compile(r"(?<![\w\\|])\|(?=\S)([^|\n]*?\S)\|(?![\w|])")
COLUMNS = re.compile(r"\S {3,}\S")                             # text aligned in columns
EMPHASIS_END = re.compile(r"\S\*(?=$|[\s.,;:!?)\]}'\"/-])")


def _escape_stars(text: str) -> str:
    out = []
    for k, ch in enumerate(text):
        lone = ch == "*" and text[k - 1:k] != "*" and text[k + 1:k + 2] != "*"
        before, after = text[k - 1:k] or " ", text[k + 1:k + 2] or " "
        opens = lone and not after.isspace() and (before.isspace() or before in "([{<'\"/-:")
        out.append("\\*" if opens and not EMPHASIS_END.search(text, k + 1) else ch)
    return "".join(out)


def escape_inline(line: str) -> str:
    """``|x|`` and a ``*`` that opens no emphasis, escaped outside literals and roles."""
    parts = LITERAL.split(line)
    return "".join(part if i % 2 else _escape_stars(ABSOLUTE.sub(r"\\|\1\\|", part)) for i, part in enumerate(parts))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def fix_layout(lines: list[str]) -> list[str]:
    """The docstring's lines with indented formulas/code as literal blocks and lists set off by a blank line."""
    out: list[str] = []
    in_list, i = False, 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            out.append(line)
            i += 1
            continue
        aligned = 0
        while i + aligned < len(lines) and _indent(lines[i + aligned]) == 0 and COLUMNS.search(lines[i + aligned]) \
                and not BULLET.match(lines[i + aligned]):
            aligned += 1
        if aligned >= 2 and not in_list:
            out += ([""] if out and out[-1].strip() else []) + ["::", ""] + ["    " + x for x in lines[i:i + aligned]]
            out += [""] if i + aligned < len(lines) and lines[i + aligned].strip() else []
            i += aligned
            continue
        if _indent(line) == 0:
            starts_list = bool(BULLET.match(line))
            if out and out[-1].strip() and starts_list != in_list:
                out.append("")                                  # a list begins or ends right under a paragraph
            in_list = starts_list
            out.append(escape_inline(line))
            i += 1
            continue
        if in_list or _indent(line) < 4:                         # a list item's continuation, as written
            out.append(escape_inline(line))
            i += 1
            continue
        end = i
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) >= 4):
            end += 1
        while not lines[end - 1].strip():
            end -= 1
        intro = next((k for k in range(len(out) - 1, -1, -1) if out[k].strip()), None)
        if intro is not None and out[intro].rstrip().endswith(":") and not out[intro].rstrip().endswith("::"):
            out[intro] = out[intro].rstrip() + ":"                  # "text:" + literal block, shown as "text:"
            if out[-1].strip():
                out.append("")
        elif intro is None or not out[intro].rstrip().endswith("::"):
            out += ([""] if out and out[-1].strip() else []) + ["::", ""]
        out += lines[i:end]
        if end < len(lines) and lines[end].strip():
            out.append("")
        i = end
    return out


SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=[A-Z`\"(])")


def sentences(lines: list[str]) -> list[str]:
    """The docstring's sentences: paragraphs and list items, each split at sentence ends, lines joined."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if not line.strip() or BULLET.match(line.strip()):
            blocks.append([])
        if line.strip():
            item = BULLET.match(line.strip()) if not blocks[-1] else None
            blocks[-1].append(line.strip()[item.end():] if item else line.strip())
    out = []
    for block in blocks:
        out += [re.sub(r";$", ".", s.strip()) for s in SENTENCE_END.split(" ".join(block)) if s.strip()]
    return out


def parameters(obj) -> list[inspect.Parameter]:
    """The parameters a reader passes (no ``self``, ``*args``, ``**kwargs``)."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [p for p in signature.parameters.values()
            if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def parameter_fields(obj, lines: list[str], limit: int = 2) -> list[str]:
    """``:param name: …`` for every parameter: the docstring's sentences that name it (````name````,
    ````name=…````, ``name: …``), else its default value; an annotation adds the type (autodoc)."""
    said = sentences(lines)
    fields = []
    for param in parameters(obj):
        name = param.name
        mention = re.compile(rf"``\*{{0,2}}{re.escape(name)}(?:[\s=(\[,.][^`]*)?``|^{re.escape(name)}:\s")
        found = [s for s in said if mention.search(s)][:limit]
        if found:
            fields.append(f":param {name}: " + escape_inline(" ".join(found)))
        elif param.default is not param.empty and len(repr(param.default)) <= 40 and "`" not in repr(param.default):
            fields.append(f":param {name}: default ``{param.default!r}``")
        elif param.annotation is param.empty:
            fields.append(f":param {name}:")              # listed even with nothing to say about it
    return fields


def _type_docstring(obj, lines: list[str]) -> bool:
    """True when ``lines`` are only the docstring of the value's type (a constant ``dict`` gets ``dict``'s)."""
    doc = getattr(type(obj), "__doc__", None)
    return bool(doc) and "\n".join(lines).strip() == inspect.cleandoc(doc).strip()


def process_docstring(app, what, name, obj, options, lines: list[str]) -> None:
    if what in ("data", "attribute") and _type_docstring(obj, lines):
        lines[:] = []                                     # a constant is not documented by its type's docstring
        return
    fields = parameter_fields(obj, lines) if what in ("function", "method", "class") else []
    lines[:] = fix_layout(lines)
    if fields:
        lines += ([""] if lines and lines[-1].strip() else []) + fields
