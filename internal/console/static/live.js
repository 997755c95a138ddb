// Live parts of the console: an element with data-live="URL" is replaced,
// fragment by fragment, from the server's event stream at URL. Without
// this script the page shows what the server rendered.
"use strict";
(function () {
  if (!window.EventSource) return;
  document.querySelectorAll("[data-live]").forEach(function (el) {
    var src = new EventSource(el.getAttribute("data-live"));
    src.addEventListener("fragment", function (ev) {
      // The fragment is HTML the server rendered with its templates,
      // every value escaped there.
      el.innerHTML = ev.data;
      el.setAttribute("data-updated", String(Date.now()));
    });
  });
  // Confirm before leaving a destructive button's form unchecked.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (ev) {
      if (!window.confirm(f.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });
})();
