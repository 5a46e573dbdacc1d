"""Full-text search for a site written in Chinese and English, without a word segmenter.

Sphinx's own Chinese search (``html_search_language = "zh"``) needs jieba to cut words, and in Sphinx 9 its
``language_data.js`` ends with ``window.Stemmer = ChineseStemmer`` while the stemmer it ships is the English one,
so the search page stops with "ChineseStemmer is not defined". This language indexes Chinese the way search
engines without a dictionary do (Lucene's CJK analyzer): every run of Han characters becomes its overlapping
character bigrams, plus its single characters; Latin words are stemmed as by Sphinx's English search. In the
browser the query is split the same way, and Sphinx's search keeps the pages holding *every* query term, so
"变分自编码器" finds the pages that contain 变分, 分自, 自编, 编码 and 码器.
"""

from __future__ import annotations

import re

from sphinx.search.en import SearchEnglish

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"       # CJK unified ideographs (+ extension A, compatibility)
TOKEN = re.compile(rf"[{HAN}]+|[^\W{HAN}]+")           # a run of Han characters, or a word without them
HAN_RUN = re.compile(rf"[{HAN}]+")

# the same split in the browser (language_data.js): Sphinx's own splitQuery, then Han runs → bigrams
SPLITTER_JS = r"""
var splitQuery = (query) => {
  const han = /([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)/u;
  const terms = [];
  for (const word of query.split(/[^\p{Letter}\p{Number}_\p{Emoji_Presentation}]+/gu)) {
    for (const part of word.split(han)) {
      if (!part) continue;
      if (!han.test(part) || part.length === 1) { terms.push(part); continue; }
      for (let i = 0; i + 1 < part.length; i++) terms.push(part.slice(i, i + 2));
    }
  }
  return terms;
};
"""


def bigrams(run: str) -> list[str]:
    """Overlapping character bigrams of a Han run ("扩散模型" → 扩散, 散模, 模型)."""
    return [run[i:i + 2] for i in range(len(run) - 1)]


class SearchChineseEnglish(SearchEnglish):
    """English stemming for Latin words, character unigrams + bigrams for Chinese (the index side)."""

    lang = "zh_en"
    language_name = "English"             # language_data.js: window.Stemmer = EnglishStemmer (english-stemmer.js)
    js_splitter_code = SPLITTER_JS

    def split(self, input: str) -> list[str]:
        words = []
        for token in TOKEN.findall(input):
            if HAN_RUN.fullmatch(token):
                words += list(token) + bigrams(token)    # single characters, so a one-character query finds too
            else:
                words.append(token)
        return words
