// Fieldsync office: live updates. The server sends a `change` event on /api/events for every
// commit; a page whose body has data-live refetches itself and swaps in its live regions
// (elements with data-live-region and an id), so forms outside them keep what is typed.
(function () {
  "use strict";
  var body = document.body;
  var kind = body && body.dataset.live;
  if (!kind || !window.EventSource) return;
  var account = body.dataset.account || null;
  var status = document.getElementById("live-status");
  var pending = false, running = false, broken = false;

  function relevant(data) {
    if (kind === "board") return true;
    if (!data || !data.changes) return true; // fell behind: refresh to be safe
    return data.changes.some(function (c) { return c.account === null || c.account === account; });
  }

  function refresh() {
    if (running) { pending = true; return; }
    running = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected && /\/login$/.test(response.url)) { window.location.href = "/login"; return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live-region]").forEach(function (region) {
          var next = fresh.getElementById(region.id);
          if (next && next.innerHTML !== region.innerHTML) region.innerHTML = next.innerHTML;
        });
        if (status) status.textContent = "Updated " + new Date().toLocaleTimeString();
      })
      .catch(function () { if (status) status.textContent = "Offline: retrying…"; })
      .then(function () {
        running = false;
        if (pending) { pending = false; refresh(); }
      });
  }

  var events = new EventSource("/api/events");
  events.addEventListener("change", function (event) {
    var data = null;
    try { data = JSON.parse(event.data); } catch (e) { data = null; }
    if (relevant(data)) refresh();
  });
  events.addEventListener("open", function () {
    if (status) status.textContent = "Live";
    if (broken) { broken = false; refresh(); } // events may have been missed while away
  });
  events.addEventListener("error", function () {
    broken = true;
    if (status) status.textContent = "Reconnecting…";
  });
})();
