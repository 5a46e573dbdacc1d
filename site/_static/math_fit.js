// A display equation wider than its column is broken into lines (MathJax 3 has no automatic line breaking), so a
// student reads it without scrolling sideways, at 1280 px as on a phone. After MathJax has typeset the page, each
// display equation wider than its column is typeset again as `aligned` lines, broken where a printed book would
// break it: at a \qquad between two formulas, then at a relation (=, ≤, ≈ …), then at a + or − outside any
// bracket, a break inside \Big[ … \Big] being the last choice; never inside {…}, (…), [ … ], ‖…‖, |…| or
// \left … \right.
// Two to five lines are tried; if none fits, course.css scales the equation down to the column's width.
(() => {
  const RELATIONS = new Set(["=", "\\le", "\\leq", "\\ge", "\\geq", "\\approx", "\\propto", "\\equiv", "\\sim"]);
  const SPACES = new Set(["\\qquad", "\\quad"]);
  const SIZED = /^\\(big|Big|bigg|Bigg)[lr]?$/;

  // Where a new line may start: {at, skip, rank}, rank 0 best. `skip` characters are dropped at the break.
  const breakPoints = (tex) => {
    const points = [];
    let braces = 0, brackets = 0, lefts = 0, sized = 0, previous = "", norm = -1, bars = -1;
    // ‖ and | pair within the bracket they open in: KL(q ‖ p) closes with its parenthesis
    const depth = () => braces + brackets + lefts + sized;
    const toggle = (level) => (level >= 0 ? -1 : depth());
    for (let i = 0; i < tex.length; i++) {
      if (norm > depth()) norm = -1;
      if (bars > depth()) bars = -1;
      const open = norm < 0 && bars < 0;
      const c = tex[i];
      if (c === "\\") {
        const word = /^\\([A-Za-z]+|.)/.exec(tex.slice(i))[0];
        const next = tex.slice(i + word.length).trimStart()[0] || "";
        if (word === "\\|") norm = toggle(norm);                    // ‖…‖ (a norm) is never broken
        else if (word === "\\left") lefts++;
        else if (word === "\\right") lefts--;
        else if (SIZED.test(word)) { sized += "([{".includes(next) || next === "\\" ? 1 : -1; i += word.length; continue; }
        else if (/^\\[lr][vV]ert$/.test(word)) lefts += word[1] === "l" ? 1 : -1;
        else if (!braces && !brackets && !lefts && open && SPACES.has(word)) points.push({ at: i, skip: word.length, rank: 0 });
        else if (!braces && !brackets && !lefts && open && RELATIONS.has(word)) points.push({ at: i, skip: 0, rank: 1 + sized });
        i += word.length - 1;
        previous = word;
        continue;
      }
      if (c === "{") braces++;
      else if (c === "}") braces--;
      else if (c === "(" || c === "[") brackets++;
      else if (c === ")" || c === "]") brackets--;
      else if (c === "|") bars = toggle(bars);                          // |…| (an absolute value) neither
      else if (!braces && !brackets && !lefts && open) {
        if (c === "=") points.push({ at: i, skip: 0, rank: 1 + sized });
        else if ((c === "+" || c === "-") && previous && !"([{=,&".includes(previous.slice(-1)))
          points.push({ at: i, skip: 0, rank: 2 + sized });
      }
      if (!/\s/.test(c)) previous = c;
    }
    return points;
  };

  // The TeX broken into `lines` lines near equal lengths, preferring better-ranked points; null if it cannot be.
  const broken = (tex, lines) => {
    const points = breakPoints(tex);
    if (points.length < lines - 1) return null;
    const chosen = [];
    for (let k = 1; k < lines; k++) {
      const ideal = (k * tex.length) / lines;
      const after = chosen.length ? chosen[chosen.length - 1].at : 0;
      const best = points.filter((p) => p.at > after + 8)
        .map((p) => [Math.abs(p.at - ideal) + p.rank * tex.length * 0.12, p])
        .sort((a, b) => a[0] - b[0])[0];
      if (!best) return null;
      chosen.push(best[1]);
    }
    const pieces = [];
    let from = 0;
    for (const p of chosen) { pieces.push(tex.slice(from, p.at)); from = p.at + p.skip; }
    pieces.push(tex.slice(from));
    return "\\begin{aligned}&" + pieces.map((s) => s.trim()).join("\\\\&\\quad ") + "\\end{aligned}";
  };

  const naturalWidth = (container) => {
    const svg = container && container.querySelector("svg");
    return svg ? svg.width.baseVal.value : 0;
  };

  const fit = async () => {
    if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) {
      document.documentElement.dataset.mathFitted = "no math";
      return;
    }
    await MathJax.startup.promise;
    const items = Array.from(MathJax.startup.document.math || []).filter((m) => m.display && m.typesetRoot);
    for (const item of items) {
      const box = item.typesetRoot.parentElement;
      const tex = item.math;
      if (!box || /\\\\|\\begin/.test(tex) || naturalWidth(item.typesetRoot) <= box.clientWidth) continue;
      if (Array.from(box.children).some((e) => e !== item.typesetRoot)) continue;     // a numbered equation
      for (let lines = 2; lines <= 5; lines++) {
        const split = broken(tex, lines);
        if (!split) break;
        MathJax.typesetClear([box]);
        box.textContent = "\\[" + split + "\\]";
        await MathJax.typesetPromise([box]);
        if (naturalWidth(box.querySelector("mjx-container")) <= box.clientWidth) break;
      }
    }
    document.documentElement.dataset.mathFitted = "true";
  };
  window.addEventListener("load", () => { fit().catch(() => { document.documentElement.dataset.mathFitted = "error"; }); });
})();
