// Fieldsync office: confirmations before what cannot be taken back, and live updates. The server sends a `change` event on /api/events for every
// commit; a page whose body has data-live refetches itself and swaps in its live regions
// (elements with data-live-region and an id), so forms outside them keep what is typed. A busy
// company commits many times a second: a page refreshes at most once per GAP (the board, the
// largest page, every 2 s), whatever arrives meanwhile being shown by the next refresh.
// Print buttons (data-print): the customer and job pages print as a clean record (see the
// stylesheet's print rules).
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target && target.closest && target.closest("[data-print]")) window.print();
});

// Confirmations: a form with data-confirm asks before it is sent (delete, merge, void); in a
// form that chooses another customer, {choice} names the one chosen. Listening on the document
// covers forms in live regions swapped in later.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form && form.dataset ? form.dataset.confirm : null;
  if (!question) return;
  var select = form.querySelector("select");
  if (select && select.selectedIndex >= 0) {
    question = question.replace("{choice}", select.options[select.selectedIndex].text);
  }
  if (!window.confirm(question)) event.preventDefault();
}, true);

// Invoice lines as rows: "Add a line" copies the last row, emptied; "Remove" takes a row out
// (the last one left is emptied instead).
document.addEventListener("click", function (event) {
  var button = event.target;
  if (!button || !button.classList) return;
  var form = button.closest("form");
  var rows = form && form.querySelector("[data-lines] tbody");
  if (!rows) return;
  if (button.classList.contains("add-line")) {
    var last = rows.lastElementChild;
    var row = last.cloneNode(true);
    row.querySelectorAll("input").forEach(function (input) { input.value = ""; input.required = false; });
    rows.appendChild(row);
    row.querySelector("input").focus();
  } else if (button.classList.contains("remove-line")) {
    var line = button.closest("tr");
    if (rows.children.length > 1) {
      line.remove();
    } else {
      line.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    }
  }
});

(function () {
  "use strict";
  var body = document.body;
  var kind = body && body.dataset.live;
  if (!kind || !window.EventSource) return;
  var account = body.dataset.account || null;
  var status = document.getElementById("live-status");
  var pending = false, running = false, broken = false;
  var GAP = kind === "board" ? 2000 : 500;
  var last = 0, timer = null;
  var seen = null; // the latest commit announced; the board is asked for a state at least as new

  function relevant(data) {
    if (kind === "board") return true;
    if (!data || !data.changes) return true; // fell behind: refresh to be safe
    return data.changes.some(function (c) { return c.account === null || c.account === account; });
  }

  function refresh() {
    if (running) { pending = true; return; }
    var wait = last + GAP - Date.now();
    if (wait > 0) {
      if (!timer) timer = setTimeout(function () { timer = null; refresh(); }, wait);
      return;
    }
    running = true;
    last = Date.now();
    var headers = { "Accept": "text/html" };
    if (seen !== null) headers["X-Fieldsync-Seen"] = String(seen);
    fetch(window.location.href, { credentials: "same-origin", headers: headers })
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

  var events = null;
  function listen() {
    events = new EventSource("/api/events");
    events.addEventListener("change", function (event) {
      var data = null;
      try { data = JSON.parse(event.data); } catch (e) { data = null; }
      if (data && typeof data.seq === "number") seen = Math.max(seen || 0, data.seq);
      if (relevant(data)) refresh();
    });
    events.addEventListener("open", function () {
      if (status) status.textContent = "Live";
      if (broken) { broken = false; seen = null; refresh(); } // events may have been missed while away
    });
    events.addEventListener("error", function () {
      broken = true;
      if (status) status.textContent = "Reconnecting…";
    });
  }
  listen();
  // A page left for another is kept by the browser for "back" with its stream open: a browser
  // allows six connections to a server, so six pages visited quickly would leave none for the
  // next. The stream closes when the page is left and opens again if it is shown again.
  window.addEventListener("pagehide", function () { if (events) { events.close(); events = null; } });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && !events) { broken = true; listen(); }
  });
})();
