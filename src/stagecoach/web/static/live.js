/* Live updates for the dashboard, the cases page and the job page.
 * Server-Sent Events; when the stream drops the page says so at once, greys out what may be
 * stale, and reconnects with backoff from the last event it saw (the server replays what was
 * missed). Where EventSource is unavailable, it polls /status with the ETag.
 * Data from the server is only ever written with textContent; when a job changes stage or
 * status, the page swaps in a fresh server-rendered (and escaped) panel. */
(function () {
  "use strict";
  var pollMs = (parseFloat(document.body.dataset.pollInterval) || 5) * 1000;
  var LABELS = { pending: "Waiting", processing: "Processing", completed: "Completed",
    failed: "Failed", cancelled: "Cancelled", expired: "Expired", partial: "Partly done" };
  var ICONS = { pending: "\u25cb", processing: "\u21bb", completed: "\u2713", failed: "\u2715",
    cancelled: "\u2298", expired: "\u2013", partial: "\u25d1" };
  var ACTIVE = { pending: true, processing: true };
  var RETRY_FIRST_MS = 1000, RETRY_MAX_MS = 30000;

  function field(root, name) { return root ? root.querySelector('[data-field="' + name + '"]') : null; }
  function setText(el, text) { if (el && el.textContent !== text) { el.textContent = text; } }
  function label(status) { return LABELS[status] || status; }
  function counts(doc) {
    var arts = doc.artifacts || [];
    function n(s) { return arts.filter(function (a) { return a.status === s; }).length; }
    return { total: doc.files_total !== undefined ? doc.files_total : arts.length,
      done: doc.files_done !== undefined ? doc.files_done : n("completed"),
      failed: doc.files_failed !== undefined ? doc.files_failed : n("failed") };
  }
  function shownStatus(doc) {
    if (doc.status !== "completed") { return doc.status; }
    var outcome = doc.outcome || (counts(doc).failed ? "partial" : "complete");
    return outcome === "partial" ? "partial" : "completed";
  }
  function etaText(doc) {
    if (!ACTIVE[doc.status]) { return "\u2014"; }
    return doc.eta_confidence === "estimating" || !doc.eta_text ? "estimating\u2026" : doc.eta_text;
  }

  /* --- time: the viewer's local time, UTC on hover ------------------------------------- */
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function ago(seconds) {
    if (seconds < 45) { return "just now"; }
    var m = Math.round(seconds / 60);
    if (m < 60) { return m + " min ago"; }
    var h = Math.round(m / 60);
    if (h < 24) { return h + " h ago"; }
    return Math.round(h / 24) + " d ago";
  }
  function localText(iso, relative) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return null; }
    var now = new Date();
    var text = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (d.toDateString() !== now.toDateString()) {
      text = d.toLocaleDateString(undefined, { day: "numeric", month: "short",
        year: d.getFullYear() === now.getFullYear() ? undefined : "numeric" }) + " " + text;
    }
    if (relative) {
      var secs = (now - d) / 1000;
      if (secs >= -60) { text += ", " + ago(Math.max(0, secs)); }
    }
    return text;
  }
  function utcText(iso) { return iso ? iso.replace("T", " ").slice(0, 19) + " UTC" : ""; }
  function localize(root) {
    var els = (root || document).querySelectorAll("time[data-local]");
    for (var i = 0; i < els.length; i++) {
      var iso = els[i].getAttribute("datetime");
      var text = iso && localText(iso, els[i].hasAttribute("data-relative"));
      if (text) { setText(els[i], text); els[i].title = utcText(iso); }
    }
  }
  function setTime(el, iso) {
    if (!el) { return; }
    el.setAttribute("datetime", iso || "");
    el.title = utcText(iso);
    setText(el, (iso && localText(iso, el.hasAttribute("data-relative"))) || "");
  }

  /* --- connection state ------------------------------------------------------------------ */
  var conn = { down: false, since: Date.now(), signedOut: false };
  var banner = document.getElementById("connection");
  var liveMode = "";
  function setLiveState(mode) {
    if (mode) { liveMode = mode; }
    var text = liveMode === "live" ? "\u00b7 live" :
      (liveMode === "polling" ? "\u00b7 checking every " + Math.round(pollMs / 1000) + " s" : "");
    var els = document.querySelectorAll("[data-live-mode]");
    for (var i = 0; i < els.length; i++) { setText(els[i], text); }
  }
  function sawUpdate() { conn.since = Date.now(); }
  function showBanner() {
    if (!banner) { return; }
    if (conn.signedOut) {
      banner.textContent = "";
      banner.appendChild(document.createTextNode("You were signed out, so live updates stopped. "));
      var a = document.createElement("a");
      a.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      a.textContent = "Sign in again";
      banner.appendChild(a);
      return;
    }
    var secs = Math.round((Date.now() - conn.since) / 1000);
    var last = secs < 60 ? secs + " s" : Math.round(secs / 60) + " min";
    setText(banner, "Connection lost \u2014 retrying\u2026 last update " + last + " ago");
  }
  var bannerTimer = null;
  function goneDown() {
    if (!conn.down) {
      conn.down = true;
      document.body.classList.add("stale");
      liveMode = "";
      setLiveState();
    }
    showBanner();
    if (!bannerTimer) { bannerTimer = setInterval(showBanner, 1000); }
  }
  function cameBack() {
    conn.down = false;
    document.body.classList.remove("stale");
    if (bannerTimer) { clearInterval(bannerTimer); bannerTimer = null; }
    setText(banner, "");
    sawUpdate();
  }

  /* --- transport: SSE with reconnection, else polling with the ETag -------------------- */
  function pollStatus(jobId, onDoc) {
    var etag = null;
    function tick() {
      var headers = { Accept: "application/json" };
      if (etag) { headers["If-None-Match"] = etag; }
      fetch("/api/v1/jobs/" + encodeURIComponent(jobId) + "/status",
            { headers: headers, credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (conn.down) { cameBack(); }
          if (r.status === 200) {
            etag = r.headers.get("ETag");
            sawUpdate();
            return r.json().then(onDoc);
          }
          if (r.status === 304) { sawUpdate(); }
          return null;
        })
        .catch(function () { goneDown(); })
        .then(function () { setTimeout(tick, pollMs); });
    }
    tick();
  }

  /* Opens `url` as an event stream; on each drop, closes it, says so, and opens it again
   * after 1, 2, 4 ... 30 s, from the last event id seen. `onBack` runs after a reconnection. */
  function stream(url, lastId, onDoc, onBack, fallback) {
    if (!window.EventSource || window.STAGECOACH_NO_SSE) { fallback(); return; }
    var delay = RETRY_FIRST_MS;
    var es = null;
    function open() {
      var sep = url.indexOf("?") < 0 ? "?" : "&";
      es = new EventSource(lastId ? url + sep + "last_event_id=" + encodeURIComponent(lastId) : url);
      es.addEventListener("status", function (e) {
        if (e.lastEventId) { lastId = e.lastEventId; }
        sawUpdate();
        var doc;
        try { doc = JSON.parse(e.data); } catch (err) { return; }
        onDoc(doc);
      });
      es.onopen = function () {
        var wasDown = conn.down;
        delay = RETRY_FIRST_MS;
        cameBack();
        setLiveState("live");
        if (wasDown && onBack) { onBack(); }
      };
      es.onerror = function () {
        es.close();
        goneDown();
        // A stream the server refused or ended may mean the session ended: ask.
        fetch("/api/v1/me", { credentials: "same-origin", cache: "no-store" })
          .then(function (r) {
            if (r.status === 401) { conn.signedOut = true; showBanner(); return; }
            schedule();
          })
          .catch(schedule);
      };
    }
    function schedule() {
      setTimeout(open, delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
    open();
  }

  /* --- job rows (dashboard and cases) --------------------------------------------------- */
  function setBar(root, progress, status) {
    var bar = field(root, "bar");
    if (!bar) { return; }
    var pct = Math.round(progress);
    bar.setAttribute("aria-valuenow", String(progress));
    bar.setAttribute("aria-valuetext", pct + "% " + label(status));
    bar.className = bar.className.replace(/\bstatus-\S+/, "status-" + status);
    bar.classList.toggle("active", !!ACTIVE[status]);
    bar.firstElementChild.style.width = progress + "%";
    setText(field(root, "percent"), pct + "%");
  }

  function setBadge(root, status) {
    var badge = field(root, "badge");
    if (!badge) { return; }
    badge.className = "badge status-" + status;
    setText(badge.querySelector('[data-field="status-text"]'), label(status));
    setText(badge.querySelector(".badge-icon"), ICONS[status] || "");
  }

  var announcer = document.getElementById("announcer");
  function announce(text) { setText(announcer, text); }

  function bumpCount(status, by) {
    var el = document.querySelector('[data-count="' + status + '"]');
    if (el) { setText(el, String(Math.max(0, (parseInt(el.textContent, 10) || 0) + by))); }
  }

  function elapsedText(from, to) {
    if (!from) { return "\u2014"; }
    var secs = Math.max(0, ((to ? new Date(to) : new Date()) - new Date(from)) / 1000);
    if (secs < 10) { return secs.toFixed(1) + "s"; }
    if (secs < 60) { return Math.round(secs) + "s"; }
    var m = Math.floor(Math.round(secs) / 60), s = Math.round(secs) % 60;
    if (m < 60) { return m + "m " + pad(s) + "s"; }
    return Math.floor(m / 60) + "h " + pad(m % 60) + "m";
  }
  function tickElapsed(root) {
    var els = root.querySelectorAll('[data-field="elapsed"]');
    for (var i = 0; i < els.length; i++) {
      if (els[i].dataset.from && !els[i].dataset.to) {
        setText(els[i], elapsedText(els[i].dataset.from, ""));
      }
    }
  }

  /* Returns true when the row's status changed. */
  function updateRow(row, doc) {
    var before = row.dataset.status;
    var shown = shownStatus(doc);
    row.dataset.status = doc.status;
    setBar(row, doc.progress, doc.status);
    setBadge(row, shown);
    setText(field(row, "stage"), ACTIVE[doc.status] && doc.current_stage ? doc.current_stage : "\u2014");
    setText(field(row, "eta"), etaText(doc));
    var c = counts(doc);
    setText(field(row, "files"), c.done + " of " + c.total);
    var el = field(row, "elapsed");
    if (el) {
      el.dataset.from = doc.started_at || "";
      el.dataset.to = ACTIVE[doc.status] ? "" : (doc.finished_at || "");
      setText(el, elapsedText(el.dataset.from, el.dataset.to));
    }
    if (before !== doc.status) {
      bumpCount(before, -1);
      bumpCount(doc.status, 1);
      announce((row.dataset.title || "A job") + ": " + label(shown));
      return true;
    }
    return false;
  }

  function rowOf(root, jobId) {
    return root.querySelector('.job-row[data-job-id="' + CSS.escape(jobId) + '"]');
  }

  function startDashboard(list) {
    function onDoc(doc) {
      var r = rowOf(list, doc.job_id);
      if (r) { updateRow(r, doc); return; }
      var note = document.querySelector(".live-note");
      if (note && !list.dataset.filtered && !document.getElementById("new-jobs")) {
        var a = document.createElement("a");
        a.id = "new-jobs";
        a.href = window.location.pathname + window.location.search;
        a.textContent = " New jobs arrived: show them";
        note.appendChild(a);
      }
    }
    function fallback() {
      setLiveState("polling");
      var rows = list.querySelectorAll(".job-row");
      for (var i = 0; i < rows.length; i++) {
        if (ACTIVE[rows[i].dataset.status]) { pollStatus(rows[i].dataset.jobId, onDoc); }
      }
    }
    // Replays what changed between the page's rendering and this connection, and after a drop.
    stream("/api/v1/events", list.dataset.lastEventId || "0", onDoc, null, fallback);
    setInterval(function () { tickElapsed(list); localize(list); }, 15000);
  }

  function startCases(list) {
    var refreshing = false, again = false;
    function refresh() {
      if (refreshing) { again = true; return; }
      refreshing = true;
      fetch("/cases", { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("case-list");
          if (fresh) {
            fresh = document.adoptNode(fresh);
            fresh.dataset.lastEventId = list.dataset.lastEventId;
            list.replaceWith(fresh);
            list = fresh;
            localize(list);
          }
        })
        .catch(function () {})
        .then(function () { refreshing = false; if (again) { again = false; refresh(); } });
    }
    function onDoc(doc) {
      var r = rowOf(list, doc.job_id);
      if (!r) { if (doc.case_name) { refresh(); } return; }  // a new job in a case
      if (updateRow(r, doc)) { refresh(); }  // the totals moved
    }
    stream("/api/v1/events", list.dataset.lastEventId || "0", onDoc, refresh, function () {
      setLiveState("polling");
      setInterval(refresh, pollMs);
    });
  }

  /* --- job page ------------------------------------------------------------------------- */
  function shapeOf(doc) {
    return (doc.artifacts || []).map(function (a) {
      return a.status + "/" + (a.current_stage || "") + ";";
    }).join("");
  }

  function enhancePanel(panel) {
    localize(panel);
    var box = panel.querySelector("[data-transcript]");
    if (box) {
      var full = null;
      var getText = function () {
        if (full !== null) { return Promise.resolve(full); }
        return fetch(box.dataset.transcript, { credentials: "same-origin" })
          .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); })
          .then(function (t) { full = t; return t; });
      };
      var note = field(box, "copy-note");
      var all = box.querySelector('[data-action="show-all"]');
      if (all) {
        all.addEventListener("click", function () {
          getText().then(function (t) {
            var target = field(box, "transcript-text");
            target.textContent = "";
            t.split(/\n\s*\n/).forEach(function (para) {
              if (!para.trim()) { return; }
              var p = document.createElement("p");
              p.textContent = para;
              target.appendChild(p);
            });
            all.remove();
            target.focus();
          }).catch(function () { setText(note, "The transcript could not be loaded; use Download."); });
        });
      }
      var copy = box.querySelector('[data-action="copy"]');
      if (copy) {
        copy.addEventListener("click", function () {
          getText()
            .then(function (t) { return navigator.clipboard.writeText(t); })
            .then(function () { setText(note, "Copied to the clipboard."); })
            .catch(function () { setText(note, "Copying did not work here: select the text instead."); });
        });
      }
    }
    var forms = panel.querySelectorAll("form[data-confirm]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", function (e) {
        var form = e.currentTarget;
        if (!window.confirm(form.dataset.confirm)) { e.preventDefault(); return; }
        if (!form.querySelector('input[name="confirm"]')) {
          var yes = document.createElement("input");
          yes.type = "hidden"; yes.name = "confirm"; yes.value = "yes";
          form.appendChild(yes);
        }
      });
    }
  }

  function startJob(panel) {
    var jobId = panel.dataset.jobId;
    var refreshing = false, again = false;

    function refreshPanel() {
      if (refreshing) { again = true; return; }
      refreshing = true;
      fetch("/jobs/" + encodeURIComponent(jobId) + "/panel",
            { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var parsed = new DOMParser().parseFromString(html, "text/html");
          var fresh = parsed.getElementById("job-panel");
          if (fresh) {
            var before = shownStatusOf(panel);
            fresh = document.adoptNode(fresh);
            panel.replaceWith(fresh);
            panel = fresh;
            enhancePanel(panel);
            if (shownStatusOf(panel) !== before) { announce("Status: " + label(shownStatusOf(panel))); }
            setLiveState();
            document.title = label(shownStatusOf(panel)) + " " +
              (field(panel, "percent") || {}).textContent + " \u00b7 stagecoach";
          }
        })
        .catch(function () { /* keep what we show; the next change retries */ })
        .then(function () {
          refreshing = false;
          if (again) { again = false; refreshPanel(); }
        });
    }
    function shownStatusOf(p) {
      var badge = field(p, "badge");
      return badge && /status-partial/.test(badge.className) ? "partial" : p.dataset.status;
    }

    function showEta(ov, doc) {
      setText(field(ov, "eta"), etaText(doc));
      var ahead = field(ov, "ahead");
      if (ahead) {
        var n = doc.status === "pending" && doc.queue_position ? doc.queue_position - 1 : null;
        ahead.hidden = n === null;
        if (n !== null) {
          setText(ahead, (n === 0 ? "Next in the queue" : n + " job" + (n === 1 ? "" : "s") + " ahead") + " \u00b7");
        }
      }
      var wrap = field(ov, "completion-wrap");
      if (wrap) {
        // Never a finish time that has already passed, nor one without evidence.
        var at = doc.estimated_completion ? new Date(doc.estimated_completion) : null;
        var ok = at && at > new Date() && doc.eta_confidence !== "estimating";
        wrap.hidden = !ok;
        if (ok) { setTime(field(ov, "completion"), doc.estimated_completion); }
      }
    }

    var current = null;
    function onDoc(doc) {
      if (doc.job_id !== jobId) { return; }
      current = doc;
      if (doc.status !== panel.dataset.status || (doc.current_stage || "") !== panel.dataset.stage ||
          shapeOf(doc) !== panel.dataset.shape || String(doc.attempts) !== panel.dataset.attempts) {
        refreshPanel();
        return;
      }
      var ov = panel.querySelector(".overview");
      setBar(ov, doc.progress, doc.status);
      setText(field(ov, "message-text"), doc.message || "");
      showEta(ov, doc);
      var stalled = field(ov, "stalled");
      if (stalled) { stalled.hidden = !doc.stalled; }
      setTime(field(ov, "updated"), doc.updated_at);
      (doc.artifacts || []).forEach(function (a) {
        var row = panel.querySelector('[data-artifact-id="' + CSS.escape(a.artifact_id) + '"]');
        if (row) { setBar(row, a.progress, a.status); }
      });
      document.title = label(shownStatus(doc)) + " " + Math.round(doc.progress) + "% \u00b7 stagecoach";
    }

    enhancePanel(panel);
    var polling = false;
    stream("/api/v1/jobs/" + encodeURIComponent(jobId) + "/events", "", onDoc, refreshPanel, function () {
      polling = true;
      setLiveState("polling");
      pollStatus(jobId, onDoc);
    });
    // Stalled, time left and "x min ago" change with time alone: re-check now and then.
    setInterval(function () {
      localize(panel);
      if (current) { showEta(panel.querySelector(".overview") || panel, current); }
      if (!polling && !conn.down && ACTIVE[panel.dataset.status]) {
        fetch("/api/v1/jobs/" + encodeURIComponent(jobId) + "/status",
              { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { return r.ok ? r.json().then(onDoc) : null; })
          .catch(function () {});
      }
    }, 30000);
  }

  /* --- filters apply without a button ---------------------------------------------------- */
  var auto = document.querySelectorAll("form[data-autosubmit]");
  for (var i = 0; i < auto.length; i++) {
    (function (form) {
      var buttons = form.querySelectorAll("[data-nojs]");
      for (var j = 0; j < buttons.length; j++) { buttons[j].hidden = true; }
      form.addEventListener("change", function () {
        // an address without empty filters: /?owner=ana, not /?case=&owner=ana
        var fields = form.querySelectorAll("select, input");
        for (var k = 0; k < fields.length; k++) { fields[k].disabled = !fields[k].value; }
        form.submit();
      });
    }(auto[i]));
  }
  window.addEventListener("pageshow", function () {  // back from the filtered page
    var off = document.querySelectorAll("form[data-autosubmit] [disabled]");
    for (var k = 0; k < off.length; k++) { off[k].disabled = false; }
  });

  localize(document);
  var panel = document.getElementById("job-panel");
  if (panel) { startJob(panel); }
  var list = document.querySelector('[data-live="all"]');
  if (list) { startDashboard(list); }
  var cases = document.querySelector('[data-live="cases"]');
  if (cases) { startCases(cases); }
}());
