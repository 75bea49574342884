/* Live updates for the dashboard and the job page.
 * Server-Sent Events first; where they cannot flow, poll /status with the ETag.
 * Data from the server is only ever written with textContent; when a job changes stage or
 * status, the page swaps in a fresh server-rendered (and escaped) panel. */
(function () {
  "use strict";
  var pollMs = (parseFloat(document.body.dataset.pollInterval) || 5) * 1000;
  var LABELS = { pending: "Waiting", processing: "Processing", completed: "Completed",
    failed: "Failed", cancelled: "Cancelled", expired: "Expired" };
  var ICONS = { pending: "\u25cb", processing: "\u21bb", completed: "\u2713", failed: "\u2715",
    cancelled: "\u2298", expired: "\u2013" };
  var ACTIVE = { pending: true, processing: true };

  function when(iso) { return iso ? iso.replace("T", " ").slice(0, 19) + " UTC" : ""; }
  function field(root, name) { return root ? root.querySelector('[data-field="' + name + '"]') : null; }
  function setText(el, text) { if (el && el.textContent !== text) { el.textContent = text; } }
  function label(status) { return LABELS[status] || status; }

  var liveMode = "";
  function setLiveState(mode) {
    if (mode) { liveMode = mode; }
    var text = liveMode === "live" ? "\u00b7 live" :
      (liveMode === "polling" ? "\u00b7 checking every " + Math.round(pollMs / 1000) + " s" : "");
    var els = document.querySelectorAll("[data-live-mode]");
    for (var i = 0; i < els.length; i++) { setText(els[i], text); }
  }

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

  /* --- transport: SSE, else polling with the ETag ------------------------------------ */
  function pollStatus(jobId, onDoc) {
    var etag = null;
    function tick() {
      var headers = { Accept: "application/json" };
      if (etag) { headers["If-None-Match"] = etag; }
      fetch("/api/v1/jobs/" + encodeURIComponent(jobId) + "/status",
            { headers: headers, credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (r.status === 200) {
            etag = r.headers.get("ETag");
            return r.json().then(onDoc);
          }
          return null;
        })
        .catch(function () { /* offline for a moment: try again next tick */ })
        .then(function () { setTimeout(tick, pollMs); });
    }
    tick();
  }

  function connect(url, onDoc, fallback) {
    if (!window.EventSource || window.STAGECOACH_NO_SSE) { fallback(); return; }
    var es = new EventSource(url);
    var failures = 0;
    es.addEventListener("status", function (e) {
      var doc;
      try { doc = JSON.parse(e.data); } catch (err) { return; }
      onDoc(doc);
    });
    es.onopen = function () { failures = 0; setLiveState("live"); };
    es.onerror = function () {
      failures += 1;
      // The browser reconnects by itself (sending Last-Event-ID); give up after repeated failures.
      if (es.readyState === EventSource.CLOSED || failures >= 3) {
        es.close();
        fallback();
      }
    };
  }

  /* --- dashboard ------------------------------------------------------------------------ */
  function updateCard(card, doc) {
    card.dataset.status = doc.status;
    setBar(card, doc.progress, doc.status);
    setBadge(card, doc.status);
    setText(field(card, "stage"), doc.current_stage || "\u2014");
    setText(field(card, "eta"), doc.eta_text || "");
    setText(field(card, "message"), doc.message || "");
  }

  function startDashboard(list) {
    function card(jobId) {
      return list.querySelector('.job-card[data-job-id="' + CSS.escape(jobId) + '"]');
    }
    function onDoc(doc) {
      var c = card(doc.job_id);
      if (c) { updateCard(c, doc); return; }
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
      var cards = list.querySelectorAll(".job-card");
      for (var i = 0; i < cards.length; i++) {
        if (ACTIVE[cards[i].dataset.status]) { pollStatus(cards[i].dataset.jobId, onDoc); }
      }
    }
    // Replays what changed between the page's rendering and this connection.
    connect("/api/v1/events?last_event_id=" + encodeURIComponent(list.dataset.lastEventId || "0"),
            onDoc, fallback);
  }

  /* --- job page ------------------------------------------------------------------------- */
  function shapeOf(doc) {
    return (doc.artifacts || []).map(function (a) {
      return a.status + "/" + (a.current_stage || "") + ";";
    }).join("");
  }

  function loadResults(panel) {
    var box = panel.querySelector("[data-results]");
    if (!box || box.dataset.loaded) { return; }
    box.dataset.loaded = "1";
    var base = box.dataset.results;
    var note = field(box, "results-note");
    fetch(base, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 404) { setText(note, "No results to download for this job yet."); return null; }
        if (!r.ok) { setText(note, "Results could not be listed just now; reload to try again."); return null; }
        return r.json().then(function (data) {
          var items = Array.isArray(data) ? data : (data.results || data.items || []);
          if (!items.length) { setText(note, "This job produced no files to download."); return; }
          if (note) { note.remove(); }
          items.forEach(function (item) {
            var name = typeof item === "string" ? item : (item.name || item.filename || "result");
            var href = (item && (item.url || item.href || (item.links && (item.links.download || item.links.self)))) || "";
            if (href.charAt(0) !== "/" || href.charAt(1) === "/") {
              href = base + "/" + encodeURIComponent(name);
            }
            var a = document.createElement("a");
            a.className = "button";
            a.href = href;
            a.setAttribute("download", name);
            var source = item && item.filename && item.filename !== name ? " (" + item.filename + ")" : "";
            a.textContent = "Download " + name + source;
            box.appendChild(a);
          });
        });
      })
      .catch(function () { setText(note, "Results could not be listed just now; reload to try again."); });
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
            fresh = document.adoptNode(fresh);
            panel.replaceWith(fresh);
            panel = fresh;
            loadResults(panel);
            setLiveState();
            document.title = label(panel.dataset.status) + " " +
              (field(panel, "percent") || {}).textContent + " \u00b7 stagecoach";
          }
        })
        .catch(function () { /* keep what we show; the next change retries */ })
        .then(function () {
          refreshing = false;
          if (again) { again = false; refreshPanel(); }
        });
    }

    function onDoc(doc) {
      if (doc.job_id !== jobId) { return; }
      if (doc.status !== panel.dataset.status || (doc.current_stage || "") !== panel.dataset.stage ||
          shapeOf(doc) !== panel.dataset.shape) {
        refreshPanel();
        return;
      }
      var ov = panel.querySelector(".overview");
      setBar(ov, doc.progress, doc.status);
      setText(field(ov, "message-text"), doc.message || "");
      setText(field(ov, "eta"), doc.eta_text || "Working out how long this will take\u2026");
      var wrap = field(ov, "completion-wrap");
      if (wrap) {
        wrap.hidden = !doc.estimated_completion;
        setText(field(ov, "completion"), when(doc.estimated_completion));
      }
      var stalled = field(ov, "stalled");
      if (stalled) { stalled.hidden = !doc.stalled; }
      setText(field(ov, "updated"), when(doc.updated_at));
      (doc.artifacts || []).forEach(function (a) {
        var row = panel.querySelector('[data-artifact-id="' + CSS.escape(a.artifact_id) + '"]');
        if (row) { setBar(row, a.progress, a.status); }
      });
      document.title = label(doc.status) + " " + Math.round(doc.progress) + "% \u00b7 stagecoach";
    }

    loadResults(panel);
    var polling = false;
    connect("/api/v1/jobs/" + encodeURIComponent(jobId) + "/events", onDoc, function () {
      polling = true;
      setLiveState("polling");
      pollStatus(jobId, onDoc);
    });
    // Stalled and time-left change with time alone, without any event: re-check now and then.
    setInterval(function () {
      if (!polling && ACTIVE[panel.dataset.status]) {
        fetch("/api/v1/jobs/" + encodeURIComponent(jobId) + "/status",
              { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { return r.ok ? r.json().then(onDoc) : null; })
          .catch(function () {});
      }
    }, 30000);
  }

  var panel = document.getElementById("job-panel");
  if (panel) { startJob(panel); }
  var list = document.querySelector('[data-live="all"]');
  if (list) { startDashboard(list); }
}());
