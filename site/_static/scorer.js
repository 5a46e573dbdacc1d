// Search ranking (html_search_scorer; site/_ext/offline_search.py): Sphinx's default weights, plus a score() that
// puts a page of the reference (api/, docs/) found by its words or title below every lecture found the same way
// (a title hit scores 15, a text hit 5: the reference loses 11), and a lecture of the edition the reader came from
// (zh/ or en/) before the other edition's. An API object (q_sample, elbo) keeps Sphinx's own score.
var Scorer = {
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
  score: (result) => {
    const [docname, , , , score, , kind] = result;
    let adjusted = score;
    if (kind !== "object" && /^(api|docs)\//.test(docname)) adjusted -= 11;
    let edition = null;
    try {
      const from = new URL(document.referrer);
      const root = new URL(document.documentElement.dataset.content_root || "./", window.location.href);
      if (from.origin === root.origin) edition = from.pathname.slice(root.pathname.length).split("/")[0];
    } catch (e) { /* no referrer: no preference */ }
    if ((edition === "zh" || edition === "en") && docname.startsWith(edition + "/")) adjusted += 1;
    return adjusted;
  },
};
