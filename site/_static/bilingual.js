// The switch of a page written in both languages (docs/, the API reference; site/_ext/bilingual.py marks the
// halves): show the Chinese halves, the English halves, or both. The reader's choice is kept for the next page.
(() => {
  const KEY = "coursekit-bilingual";
  const remembered = () => { try { return localStorage.getItem(KEY); } catch (e) { return null; } };
  const show = (mode) => {
    document.documentElement.dataset.bilingual = mode;
    document.querySelectorAll(".bilingual-switch [data-show]")
      .forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.show === mode)));
  };
  document.addEventListener("DOMContentLoaded", () => {
    const buttons = document.querySelectorAll(".bilingual-switch [data-show]");
    if (!buttons.length) return;
    buttons.forEach((b) => b.addEventListener("click", () => {
      try { localStorage.setItem(KEY, b.dataset.show); } catch (e) { /* private mode: this page only */ }
      show(b.dataset.show);
    }));
    show(["zh", "en", "both"].includes(remembered()) ? remembered() : "both");
  });
})();
