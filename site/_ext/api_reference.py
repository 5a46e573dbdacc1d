"""What the API reference documents: the public names that ``coursekit`` itself defines, each once.

Read from the sources (``ast``), not from ``dir(module)``, so what a module merely imports (``Path``,
``lru_cache``, ``dataclass``, the ``check_*`` helpers of ``coursekit._checks``) is never documented as course code:

- a module's public names are the functions, classes and constants it defines at top level (no leading ``_``);
- a package that lists a name in ``__all__`` (``coursekit.diffusion.q_sample``, defined in ``diffusion/forward.py``)
  is where that name is documented, since that is how the lectures call it (``D.q_sample``); its defining
  submodule then leaves it out;
- ``coursekit.cli`` (the command line: ``coursekit --help``), ``__main__`` modules and ``_private`` modules are
  not part of the Python API.

``pages()`` writes one page per top-level module (``api/diffusion.md`` …) and the index; ``canonical(module,
name)`` says under which full name an imported name is documented, so the lecture pages can link their code to it
(``_ext/api_links.py``).
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "coursekit"
ROOT = Path(importlib.util.find_spec(PACKAGE).origin).parent       # the sources of the coursekit that is installed
LEFT_OUT = ("cli", "__main__")                   # module name parts that are not the Python API

# top-level module → (中文, English) title on its API page; a module missing here uses its docstring's first line
TITLES = {
    "data": ("数据", "Data"),
    "density": ("密度估计（单元 01）", "Density estimation (unit 01)"),
    "nets": ("网络", "Networks"),
    "diffusion": ("扩散模型", "Diffusion models"),
    "autoregressive": ("自回归生成模型", "Autoregressive models"),
    "vae": ("变分自编码器", "Variational autoencoders"),
    "vae_experiments": ("VAE 实验", "VAE experiments"),
    "gan": ("生成对抗网络", "Generative adversarial networks"),
    "text2image": ("文本生成图像", "Text to image"),
    "flow": ("流匹配（单元 07）", "Flow matching (unit 07)"),
    "checkpoints": ("随包发布的模型文件", "Shipped model files"),
    "train": ("训练", "Training"),
    "recipes": ("训练配方", "Training recipes"),
    "metrics": ("评价指标", "Metrics"),
    "compare": ("各类模型的比较", "Comparing the families"),
    "viz": ("绘图", "Plotting"),
    "widgets": ("交互控件", "Widgets"),
    "i18n": ("中英两版", "The two editions"),
    "grading": ("评分", "Grading"),
}


@dataclass(frozen=True)
class Entry:
    module: str          # where it is documented: coursekit.diffusion
    name: str            # q_sample
    kind: str            # "function", "class" or "data"

    @property
    def fullname(self) -> str:
        return f"{self.module}.{self.name}"


def module_file(module: str) -> Path | None:
    rel = Path(*module.split(".")[1:])
    for path in (ROOT / rel / "__init__.py", (ROOT / rel).with_suffix(".py")):
        if path.is_file():
            return path
    return None


def modules() -> list[str]:
    """Every module of the Python API in course order (``TITLES``, then the rest), packages before submodules."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if not parts or "__pycache__" in path.parts or any(p.startswith("_") or p in LEFT_OUT for p in parts):
            continue                              # the bare package defines nothing public (only __version__)
        found.append(".".join((PACKAGE, *parts)))
    order = list(TITLES)
    return sorted(found, key=lambda m: (order.index(group(m)) if group(m) in order else len(order), m.split(".")))


@functools.cache
def _tree(module: str) -> ast.Module | None:
    path = module_file(module)
    return ast.parse(path.read_text(encoding="utf-8")) if path else None


def _is_package(module: str) -> bool:
    path = module_file(module)
    return path is not None and path.name == "__init__.py"


@functools.cache
def defined(module: str) -> dict[str, str]:
    """{name: kind} of what ``module`` defines at top level, public names only."""
    out: dict[str, str] = {}
    for node in (_tree(module) or ast.Module(body=[])).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[node.name] = "function"
        elif isinstance(node, ast.ClassDef):
            out[node.name] = "class"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id != "__all__":
                    out.setdefault(target.id, "data")
    return {name: kind for name, kind in out.items() if not name.startswith("_")}


@functools.cache
def exported(module: str) -> tuple[str, ...]:
    """``module.__all__`` (public names only); () when it has none."""
    names = getattr(importlib.import_module(module), "__all__", ())
    return tuple(n for n in names if not n.startswith("_"))


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@functools.cache
def origin(module: str, name: str) -> tuple[str, str] | None:
    """(module, name) where ``module.name`` is defined, following ``from .x import name`` inside coursekit; None for
    a name from outside coursekit (``Path``) or a submodule."""
    if name in defined(module):
        return module, name
    for node in (_tree(module) or ast.Module(body=[])).body:
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                if (alias.asname or alias.name) == name and source.split(".")[0] == PACKAGE:
                    if module_file(f"{source}.{alias.name}") is not None and alias.name not in defined(source):
                        return None                                 # a submodule, not a name
                    return origin(source, alias.name)
    return _origin_at_run_time(module, name)


def _origin_at_run_time(module: str, name: str) -> tuple[str, str] | None:
    """For a package that loads its names lazily (``coursekit.grading``'s ``__getattr__``): the coursekit module
    whose own top-level name is that very object."""
    try:
        obj = getattr(importlib.import_module(module), name)
    except (AttributeError, ImportError):
        return None
    if inspect.ismodule(obj):
        return None
    home = getattr(obj, "__module__", None) if inspect.isclass(obj) or inspect.isroutine(obj) else None
    candidates = [home] if home else [m for m in modules() if m.startswith(module + ".")]
    for candidate in candidates:
        if candidate and candidate.split(".")[0] == PACKAGE and name in defined(candidate) \
                and getattr(importlib.import_module(candidate), name, None) is obj:
            return candidate, name
    return None


@functools.cache
def entries() -> tuple[Entry, ...]:
    """Every public name, once, at the module where the API reference documents it."""
    home: dict[tuple[str, str], str] = {}            # origin → documenting module
    kinds: dict[tuple[str, str], str] = {}
    for module in modules():
        for name, kind in defined(module).items():
            home.setdefault((module, name), module)
            kinds[(module, name)] = kind
    for module in modules():                          # packages exporting a submodule's name document it
        for name in exported(module):
            found = origin(module, name)
            if found is None or found not in kinds:
                continue
            shadows_a_module = f"{module}.{name}" in modules()     # grading.feedback: a module and a function
            if found[0].startswith(module + ".") and len(module) < len(home[found]) and not shadows_a_module:
                home[found] = module
    out = [Entry(home[key], key[1], kinds[key]) for key in home]
    order = {m: i for i, m in enumerate(modules())}
    return tuple(sorted(out, key=lambda e: order[e.module]))


@functools.cache
def _documented() -> dict[tuple[str, str], str]:
    """{(defining module, name): documented full name}."""
    return {origin(e.module, e.name) or (e.module, e.name): e.fullname for e in entries()}


def canonical(module: str, name: str) -> str | None:
    """The full name under which ``module.name`` (as a lecture imports it) is documented, or None."""
    if module_file(module) is None:
        return None
    found = origin(module, name)
    return _documented().get(found) if found else None


def group(module: str) -> str:
    """The top-level module whose page documents ``module`` (``coursekit.diffusion.forward`` → ``diffusion``)."""
    return module.split(".")[1]


def groups() -> list[str]:
    seen: list[str] = []
    for module in modules():
        if group(module) not in seen:
            seen.append(group(module))
    return seen


def title(top: str) -> tuple[str, str]:
    if top in TITLES:
        return TITLES[top]
    doc = inspect.getdoc(importlib.import_module(f"{PACKAGE}.{top}")) or top
    first = doc.strip().splitlines()[0].rstrip(".")
    return first, first


def _directive(entry: Entry) -> str:
    if entry.kind == "class":
        return f".. autoclass:: {entry.fullname}\n   :members:\n"
    if entry.kind == "function":
        return f".. autofunction:: {entry.fullname}\n"
    value = getattr(importlib.import_module(entry.module), entry.name, None)
    short = len(repr(value)) <= 80 and not callable(value)
    return f".. autodata:: {entry.fullname}\n" + ("" if short else "   :no-value:\n")


def page(top: str) -> str:
    """The MyST page of one top-level module: each module's docstring, then its names."""
    zh, en = title(top)
    parts = [f"# {zh} / {en} (`{PACKAGE}.{top}`)\n" if zh != en else f"# {en} (`{PACKAGE}.{top}`)\n"]
    by_module: dict[str, list[Entry]] = {}
    for entry in entries():
        by_module.setdefault(entry.module, []).append(entry)
    for module in modules():
        if group(module) != top or (module not in by_module and module != f"{PACKAGE}.{top}"):
            continue
        body = "\n".join(_directive(e) for e in by_module.get(module, []))
        parts.append(f"## `{module}`\n\n```{{eval-rst}}\n.. automodule:: {module}\n\n{body}```\n")
    return "\n".join(parts)


def index() -> str:
    rows = []
    for top in groups():
        zh, en = title(top)
        n = sum(group(e.module) == top for e in entries())
        rows.append(f"| [`{PACKAGE}.{top}`]({top}.md) | {f'{zh} / {en}' if zh != en else en} | {n} |")
    toc = "\n".join(groups())
    return ("# API 参考 / API reference\n\n"
            "`coursekit` 自己定义的每一个公开的函数、类与常量，各有一个条目（可被搜索、可被链接），"
            "内容来自 docstring：每个函数注明它计算的讲义公式，参数说明摘自 docstring 中提到该参数的句子。"
            "讲义页面的代码中用到的 `coursekit` 名称都链接到这里。\n"
            "/ Every public function, class and constant that `coursekit` itself defines has one entry (found by the "
            "search, linkable), generated from its docstring: each function cites the slide formula it computes, and "
            "each parameter is described by the docstring's sentence that names it. The `coursekit` names in the "
            "lectures' code link here.\n\n"
            "| 模块 / module | 内容 / contents | 名称 / names |\n|---|---|---|\n" + "\n".join(rows)
            + f"\n\n```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{toc}\n```\n")


def pages() -> dict[str, str]:
    """{file name under api/: MyST text}."""
    return {"index.md": index(), **{f"{top}.md": page(top) for top in groups()}}
