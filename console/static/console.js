// Draws every Vega-Lite chart on the page (vendored vega-embed, SVG renderer) and sets up htmx.
(function () {
  function renderCharts(root) {
    root.querySelectorAll("script.vl-spec").forEach(function (el) {
      var target = document.getElementById(el.dataset.target);
      if (!target || target.dataset.drawn) return;
      target.dataset.drawn = "1";
      vegaEmbed(target, JSON.parse(el.textContent), { renderer: "svg", actions: false })
        .then(function () { target.dataset.rendered = "1"; })
        .catch(function (err) { target.textContent = "The chart could not be drawn: " + err; });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { renderCharts(document); });
  document.addEventListener("htmx:afterSwap", function (e) { renderCharts(e.target); });
  if (window.htmx) {
    // A conflict (409) or a refusal (403) comes back as the explain rail with the message: show it.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "40[39]", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
    document.addEventListener("htmx:configRequest", function (e) {
      var meta = document.querySelector("meta[name=csrf-token]");
      if (meta) e.detail.headers["X-CSRF-Token"] = meta.content;
    });
  }
})();
