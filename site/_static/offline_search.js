// Search snippets for a site opened from files (site/_ext/offline_search.py): the search page fetches each result
// page to cut its snippet, which a browser refuses on file:// URLs. There, and only on the search page, the page's
// text comes from _static/pagetext.js instead (loaded once, on the first fetch).
(() => {
  if (window.location.protocol !== "file:" || !/\/search\.html$/.test(window.location.pathname)) return;
  const root = document.documentElement.dataset.content_root || "./";
  let loaded = null;
  const pageText = () => loaded || (loaded = new Promise((resolve) => {
    const script = document.createElement("script");
    script.src = root + "_static/pagetext.js";
    script.onload = () => resolve(window.COURSE_PAGE_TEXT || {});
    script.onerror = () => resolve({});
    document.head.appendChild(script);
  }));
  const escape = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const realFetch = window.fetch.bind(window);
  window.fetch = (resource, options) => {
    const url = new URL(String(resource), window.location.href);
    if (url.protocol !== "file:" || !url.pathname.endsWith(".html")) return realFetch(resource, options);
    const base = new URL(root, window.location.href).pathname;
    const doc = decodeURIComponent(url.pathname.slice(base.length)).replace(/\.html$/, "");
    return pageText().then((texts) => new Response(
      `<html><body><div role="main">${escape(texts[doc] || "")}</div></body></html>`,
      { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } }));
  };
})();
