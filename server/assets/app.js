// Fieldsync office: confirmations before what cannot be taken back, and live updates. The server sends a `change` event on /api/events for every
// commit, naming the documents and customers it changed; a page whose body has data-live
// refetches itself when the change concerns it and swaps in its live regions (elements with
// data-live-region and an id), so forms outside them keep what is typed. The board, the largest
// page, asks only for the cards of the customers that changed and puts each in its columns in
// order; it redraws whole when it cannot tell (too many changes, a column it lacks, events
// missed). A busy company commits many times a second: a page refreshes at most once per GAP
// (the board every 2 s), whatever arrives meanwhile being shown by the next refresh.
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
  // The board: customers whose cards to redraw at the next refresh, or whole when null.
  var MAX_ACCOUNTS = 200;
  var changed = {}, whole = false;

  function relevant(data) {
    if (kind === "board") {
      if (!data || !data.changes) { whole = true; return true; }
      data.changes.forEach(function (c) {
        if (c.account) changed[c.account] = true; else whole = true;
      });
      return true;
    }
    if (!data || !data.changes) return true; // fell behind: refresh to be safe
    return data.changes.some(function (c) { return c.account === null || c.account === account; });
  }

  // Puts `card` in `column` among its cards in their order (data-sort), and the column's count.
  function place(column, card) {
    var after = null;
    column.querySelectorAll("article.job").forEach(function (other) {
      if (!after && other.dataset.sort > card.dataset.sort) after = other;
    });
    if (after) column.insertBefore(card, after); else column.appendChild(card);
  }

  function recount(column) {
    var count = column.querySelectorAll("article.job").length;
    var label = column.querySelector("h2 .count");
    if (label) label.textContent = String(count);
    var empty = column.querySelector("p.empty");
    if (count > 0 && empty) empty.remove();
    if (count === 0 && !empty) {
      var note = document.createElement("p");
      note.className = "muted empty";
      note.textContent = column.classList.contains("unassigned") ? "Nothing waiting." : "No jobs.";
      column.appendChild(note);
    }
  }

  // The cards of `accounts` as the server drew them: each customer's cards on the board are
  // replaced by these. False when the board cannot take them (a technician's column is missing).
  function applyCards(fresh, accounts) {
    var board = document.getElementById("board");
    var cards = fresh.getElementById("board-cards");
    if (!board || !cards) return false;
    var columns = {};
    board.querySelectorAll("section.column").forEach(function (section) {
      columns[section.dataset.technician || ""] = section;
    });
    var incoming = Array.prototype.slice.call(cards.querySelectorAll("article.job"));
    var ok = incoming.every(function (card) {
      return (card.dataset.columns || "").split(" ").every(function (t) { return t in columns; });
    });
    if (!ok) return false;
    accounts.forEach(function (id) {
      board.querySelectorAll('article.job[data-account="' + id + '"]').forEach(function (card) { card.remove(); });
    });
    incoming.forEach(function (card) {
      var ids = (card.dataset.columns || "").split(" ").filter(function (t) { return t; });
      if (ids.length === 0) ids = [""];
      ids.forEach(function (t) {
        var node = document.importNode(card, true);
        node.removeAttribute("data-columns");
        place(columns[t], node);
      });
    });
    Object.keys(columns).forEach(function (t) { recount(columns[t]); });
    return true;
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
    var url = window.location.href;
    var accounts = Object.keys(changed);
    var partial = kind === "board" && !whole && seen !== null && accounts.length > 0 &&
      accounts.length <= MAX_ACCOUNTS;
    changed = {};
    if (kind === "board" && !partial) whole = false;
    if (partial) {
      var target = new URL(url);
      target.searchParams.set("accounts", accounts.join(","));
      url = target.toString();
    }
    fetch(url, { credentials: "same-origin", headers: headers })
      .then(function (response) {
        if (response.redirected && /\/login$/.test(response.url)) { window.location.href = "/login"; return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (!html) {
          if (partial) { whole = true; pending = true; }
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        if (partial) {
          if (!applyCards(fresh, accounts)) { whole = true; pending = true; }
          if (status) status.textContent = "Updated " + new Date().toLocaleTimeString();
          return;
        }
        document.querySelectorAll("[data-live-region]").forEach(function (region) {
          var next = fresh.getElementById(region.id);
          if (next && next.innerHTML !== region.innerHTML) region.innerHTML = next.innerHTML;
        });
        if (status) status.textContent = "Updated " + new Date().toLocaleTimeString();
      })
      .catch(function () {
        if (partial) whole = true; // what those cards missed is shown by a whole redraw
        if (status) status.textContent = "Offline: retrying…";
      })
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
      if (broken) { broken = false; seen = null; whole = true; refresh(); } // events may have been missed while away
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
