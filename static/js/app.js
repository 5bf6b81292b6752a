/* Co-Production Portal: small progressive enhancements. Every task works without this file. */
(function () {
  "use strict";

  var self = document.currentScript;
  var contentLoaded = false;
  document.addEventListener("DOMContentLoaded", function () { contentLoaded = true; });

  // htmx comes from a CDN with an SRI hash. When it did not arrive (offline, blocked, a
  // changed file), load the pinned copy we ship. htmx starts itself on DOMContentLoaded; if
  // that has already happened by the time the copy runs, tell it again.
  if (!window.htmx && self && self.dataset.htmxFallback) {
    var script = document.createElement("script");
    script.src = self.dataset.htmxFallback;
    script.onload = function () {
      if (contentLoaded) { document.dispatchEvent(new Event("DOMContentLoaded")); }
    };
    document.head.appendChild(script);
  }

  // An error summary takes focus, so screen reader and keyboard users hear what went wrong.
  function focusErrorSummary(root) {
    var summary = (root || document).querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
    return Boolean(summary);
  }
  focusErrorSummary(document);

  // After htmx swaps in new content: focus its error summary, or main when a whole error
  // page replaced it.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || focusErrorSummary(target)) { return; }
    var main = document.getElementById("main");
    if (main && (target === main || !document.body.contains(target))) { main.focus(); }
  });
})();
