"""Every lecture notebook: every formula in the text renders as math on the course site.

The site (site/conf.py) parses notebook markdown with MyST's ``dollarmath``: a ``$$ … $$`` line that follows a
paragraph line without a blank line (e.g. inside a list item) is not display math there, and the page showed a raw
``$`` with the rest of the cell's math shifted. This renders each markdown cell with the site's parser settings
and fails on any ``$`` left outside math and code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for lang in ("zh", "en") for p in (ROOT / "notebooks" / lang).glob("[0-9]*.ipynb"))
MATH_OR_CODE = re.compile(r'<(span|div) class="math[^"]*"[^>]*>.*?</\1>|<code>.*?</code>', re.S)


def _parser():
    pytest.importorskip("myst_parser")
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    config = MdParserConfig(enable_extensions={"dollarmath", "amsmath", "colon_fence", "deflist"})
    return create_md_parser(config, RendererHTML)


def raw_dollars(markdown: str, parser) -> list[str]:
    """The places where a ``$`` is left in the rendered text (outside math and code), with some context."""
    text = MATH_OR_CODE.sub("", parser.render(markdown))
    return [text[max(0, m.start() - 60):m.start() + 20] for m in re.finditer(r"\$", text)]


def test_the_check_sees_a_display_formula_glued_to_a_list_item():
    parser = _parser()
    glued = "1. **Markov.** so\n   $$L = a + b$$\n2. next $x$"
    spaced = "1. **Markov.** so\n\n   $$L = a + b$$\n\n2. next $x$"
    assert raw_dollars(glued, parser)
    assert not raw_dollars(spaced, parser)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_formula_renders(path):
    assert len(NOTEBOOKS) >= 24                       # 12 units, two editions
    parser = _parser()
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            left = raw_dollars("".join(cell["source"]), parser)
            assert not left, (f"{path.name}, cell {i}: a '$' renders as text near {left[0]!r} "
                              "(a $$ line needs blank lines around it)")
