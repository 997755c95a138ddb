// Live parts of the console: an element with data-live="URL" is replaced,
// fragment by fragment, from the server's event stream at URL. Without
// this script the page shows what the server rendered.
"use strict";
(function () {
  if (!window.EventSource) return;
  document.querySelectorAll("[data-live]").forEach(function (el) {
    var src = new EventSource(el.getAttribute("data-live"));
    var pending = null;
    function apply(html) {
      // The fragment is HTML the server rendered with its templates,
      // every value escaped there.
      el.innerHTML = html;
      el.setAttribute("data-updated", String(Date.now()));
    }
    // Someone typing in a form inside the live part keeps what they typed:
    // the update waits until they leave the form.
    function busy() {
      var a = document.activeElement;
      if (a && el.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName)) return true;
      var fields = el.querySelectorAll("input[type=text], textarea");
      for (var i = 0; i < fields.length; i++) if (fields[i].value !== "") return true;
      return false;
    }
    src.addEventListener("fragment", function (ev) {
      if (busy()) { pending = ev.data; return; }
      apply(ev.data);
    });
    el.addEventListener("focusout", function () {
      setTimeout(function () {
        if (pending !== null && !busy()) { apply(pending); pending = null; }
      }, 0);
    });
  });
  // Confirm before leaving a destructive button's form unchecked.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (ev) {
      if (!window.confirm(f.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });
})();
