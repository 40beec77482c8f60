// The console's own script: times in the viewer's zone, the CSRF token on HTMX requests.
// No inline scripts anywhere (the content security policy forbids them).
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.local) return;
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) return;
      el.title = el.textContent;
      el.textContent = format.format(at);
      el.dataset.local = "1";
    });
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    var zone = document.querySelector("[data-viewer-zone]");
    if (zone) zone.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone;
  });
  document.addEventListener("htmx:load", function (event) { localTimes(event.target); });
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) event.detail.headers["X-CSRF-Token"] = token;
  });
})();
