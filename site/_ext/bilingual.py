"""The language switch of the pages written in both languages at once (docs/, the API reference).

Those pages pair each Chinese text with its English one: a heading or a table cell ``中文 / English``, a paragraph
``中文……\\n/ English…``, or a section ``## 中文`` beside a section ``## English``. Here each half of such a pair is
wrapped in an element with the class ``bilingual`` and ``lang="zh"`` / ``lang="en"`` (docutils writes the
``language-xx`` class as that attribute); the switch on the page (``_static/bilingual.js``) then shows the Chinese
halves, the English halves, or both. A text with no partner in the other language is always shown.
"""

from __future__ import annotations

import re

from docutils import nodes

HAN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
LATIN = re.compile(r"[A-Za-z]")
GLOSS = re.compile(r"\([^()]*\)|（[^（）]*）")
# "中文……\n/ English…" (a paragraph) first, then "中文 / English" (a heading, a table cell)
SEPARATORS = (re.compile(r"\n/\s+"), re.compile(r"\s?/\s+"))
NUMBER = re.compile(r"\d+[a-z]?\.\s+")              # "7a. 沙箱 / The sandbox": the number belongs to both
SECTION_TITLES = {"中文": "zh", "English": "en"}

SWITCH = ('<div class="lang-switch bilingual-switch" role="group" aria-label="语言 / language">'
          '<span class="bilingual-note">中英对照 · bilingual</span>'
          '<button type="button" class="lang-switch-link" data-show="zh" lang="zh">中文</button>'
          '<button type="button" class="lang-switch-link" data-show="en" lang="en">English</button>'
          '<button type="button" class="lang-switch-link" data-show="both">中 / En</button></div>\n')


def language_of(text: str) -> str | None:
    """"en" when no Chinese is left outside brackets (an English half may carry a gloss like "(掩码卷积)"), "zh" when
    at least a sixth of the letters are Chinese (Chinese text is full of code names), else undecided."""
    if LATIN.search(text) and not HAN.search(GLOSS.sub("", text)):
        return "en"
    han, latin = len(HAN.findall(text)), len(LATIN.findall(text))
    return "zh" if han and han >= (han + latin) / 6 else None


def _wrap(children: list[nodes.Node], lang: str) -> nodes.inline:
    return nodes.inline("", "", *children, classes=["bilingual", f"language-{lang}"])


def split_pair(node: nodes.Element) -> bool:
    """Wrap the two halves of ``node`` (a paragraph or a title) at the first separator between a Chinese and an
    English half; False (node untouched) when it holds no such pair."""
    children = list(node.children)
    candidates = [(i, match) for separator in SEPARATORS for i, child in enumerate(children)
                  if isinstance(child, nodes.Text) for match in separator.finditer(str(child))]
    for i, match in candidates:
        text = str(children[i])
        before = children[:i] + ([nodes.Text(text[:match.start()])] if match.start() else [])
        after = ([nodes.Text(text[match.end():])] if match.end() < len(text) else []) + children[i + 1:]
        langs = [language_of("".join(n.astext() for n in half)) for half in (before, after)]
        if sorted(map(str, langs)) != ["en", "zh"]:
            continue
        number = NUMBER.match(str(before[0])) if before and isinstance(before[0], nodes.Text) else None
        if number:
            before[0] = nodes.Text(str(before[0])[number.end():])
        del node[:]
        node += [nodes.Text(number.group())] if number else []
        node += [_wrap(before, langs[0]), nodes.inline("", " / ", classes=["bilingual-sep"]),
                 _wrap(after, langs[1])]
        return True
    return False


def mark_pairs(doctree: nodes.document) -> int:
    """Mark every Chinese/English pair of a bilingual page; the number of pairs marked."""
    pairs = 0
    for section in list(doctree.findall(nodes.section)):
        titles = [sub[0].astext().strip() for sub in section.children if isinstance(sub, nodes.section)]
        if set(SECTION_TITLES) <= set(titles):                    # sibling sections "中文" and "English"
            for sub in section.children:
                if isinstance(sub, nodes.section) and sub[0].astext().strip() in SECTION_TITLES:
                    sub["classes"] += ["bilingual", f"language-{SECTION_TITLES[sub[0].astext().strip()]}"]
            pairs += 1
    for node in list(doctree.findall(lambda n: isinstance(n, (nodes.paragraph, nodes.title)))):
        pairs += split_pair(node)
    return pairs
