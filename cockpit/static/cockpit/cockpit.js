// Cockpit refresh: every [data-refresh-url] section fetches its fragment on its own interval and
// swaps it in (no full reload).  Skipped while the tab is hidden; a failed fetch (server down, session
// expired → redirected to the login page) keeps the old content and marks the section stale.
(function () {
  "use strict";
  function refresh(section) {
    if (document.hidden) { return; }
    fetch(section.dataset.refreshUrl, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        section.innerHTML = html;
        section.classList.remove("stale");
        section.dataset.refreshedAt = String(Date.now());
      })
      .catch(function () { section.classList.add("stale"); });
  }
  document.querySelectorAll("[data-refresh-url]").forEach(function (section) {
    var seconds = Math.max(1, Number(section.dataset.refreshSeconds) || 5);
    window.setInterval(function () { refresh(section); }, seconds * 1000);
  });
})();
