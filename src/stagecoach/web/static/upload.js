/* The upload page: drag and drop several files, one progress bar per file while the single
 * multipart request goes up (XMLHttpRequest upload progress), then the job page.
 * File names are only ever written with textContent. */
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) { return; }
  var input = document.getElementById("file-input");
  var zone = document.getElementById("drop-zone");
  var list = document.getElementById("file-list");
  var errorBox = document.getElementById("upload-error");
  var button = document.getElementById("upload-button");
  var maxFiles = parseInt(form.dataset.maxFiles, 10) || 20;
  var files = [];
  var rows = [];
  var refused = [];  // per file: why the server refused it, if it did

  function human(n) {
    if (n < 1024) { return n + " B"; }
    if (n < 1048576) { return (n / 1024).toFixed(1) + " KB"; }
    if (n < 1073741824) { return (n / 1048576).toFixed(1) + " MB"; }
    return (n / 1073741824).toFixed(2) + " GB";
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function render() {
    list.textContent = "";
    rows = [];
    files.forEach(function (f, i) {
      var li = el("li");
      li.appendChild(el("span", "name", f.name));
      li.appendChild(el("span", "size", human(f.size)));
      var bar = el("div", "bar status-pending");
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      bar.setAttribute("aria-valuenow", "0");
      bar.setAttribute("aria-label", "Upload of " + f.name);
      var fill = el("div", "bar-fill");
      fill.style.width = "0%";
      bar.appendChild(fill);
      li.appendChild(bar);
      var pct = el("span", "percent", "0%");
      li.appendChild(pct);
      var remove = el("button", "button small secondary", "Remove");
      remove.type = "button";
      remove.setAttribute("aria-label", "Remove " + f.name);
      remove.addEventListener("click", function () {
        files.splice(i, 1);
        refused.splice(i, 1);
        if (!refused.some(Boolean)) { showError(""); }
        render();
      });
      li.appendChild(remove);
      list.appendChild(li);
      if (refused[i]) {
        li.className = "refused";
        li.appendChild(el("span", "reason", "Refused: " + refused[i] + " Remove it to send the rest."));
      }
      rows.push({ bar: bar, fill: fill, pct: pct, remove: remove });
    });
  }

  function add(fileList) {
    showError("");
    for (var i = 0; i < fileList.length; i++) {
      var f = fileList[i];
      var dup = files.some(function (g) { return g.name === f.name && g.size === f.size; });
      if (!dup) { files.push(f); refused.push(null); }
    }
    if (files.length > maxFiles) {
      files = files.slice(0, maxFiles);
      refused = refused.slice(0, maxFiles);
      showError("At most " + maxFiles + " files per upload; the rest were left out.");
    }
    render();
  }

  input.addEventListener("change", function () { add(input.files); input.value = ""; });
  document.getElementById("choose-files").addEventListener("click", function () { input.click(); });
  zone.addEventListener("click", function (e) { if (e.target === zone || e.target.tagName === "P") { input.click(); } });
  ["dragenter", "dragover"].forEach(function (t) {
    zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) { if (e.dataTransfer) { add(e.dataTransfer.files); } });

  var modes = form.querySelectorAll('input[name="case_mode"]');
  function showMode() {
    var mode = form.querySelector('input[name="case_mode"]:checked').value;
    form.querySelectorAll("[data-case]").forEach(function (d) { d.hidden = d.dataset.case !== mode; });
  }
  modes.forEach(function (m) { m.addEventListener("change", showMode); });
  showMode();

  function setRow(row, fraction) {
    var pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    row.fill.style.width = pct + "%";
    row.bar.setAttribute("aria-valuenow", String(pct));
    row.pct.textContent = pct + "%";
    row.bar.className = "bar " + (pct >= 100 ? "status-completed" : "status-processing active");
  }

  function jobIdOf(body) {
    if (!body) { return null; }
    if (body.job_id) { return body.job_id; }
    if (body.job && body.job.job_id) { return body.job.job_id; }
    if (body.jobs && body.jobs.length && body.jobs[0].job_id) { return body.jobs[0].job_id; }
    return null;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!files.length) { showError("Choose at least one file to upload."); return; }
    showError("");
    var fd = new FormData();
    files.forEach(function (f) { fd.append("files", f, f.name); });
    var mode = form.querySelector('input[name="case_mode"]:checked').value;
    if (mode === "existing") {
      var opt = document.getElementById("case-existing").selectedOptions[0];
      if (opt) {
        fd.append("case_name", opt.value);
        if (opt.dataset.parentJob) { fd.append("parent_job_id", opt.dataset.parentJob); }
      }
    } else {
      var name = document.getElementById("case-name").value.trim();
      if (name) { fd.append("case_name", name); }
    }
    var total = files.reduce(function (s, f) { return s + f.size; }, 0) || 1;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/upload");
    xhr.setRequestHeader("Accept", "application/json");
    // The API refuses a cookie-signed POST without the page's CSRF token.
    xhr.setRequestHeader("X-CSRF-Token", form.querySelector('input[name="csrf_token"]').value);
    xhr.upload.onprogress = function (ev) {
      if (!ev.lengthComputable) { return; }
      // One request carries the files in order: spread the bytes sent over them.
      var sent = ev.loaded / ev.total * total;
      var start = 0;
      files.forEach(function (f, i) {
        var size = f.size || 1;
        setRow(rows[i], (sent - start) / size);
        start += f.size;
      });
    };
    xhr.onload = function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) {
        rows.forEach(function (r) { setRow(r, 1); });
        var id = jobIdOf(body);
        window.location.assign(id ? "/jobs/" + encodeURIComponent(id) : "/");
        return;
      }
      button.disabled = false;
      rows.forEach(function (r) { r.remove.disabled = false; });
      var detail = body && (body.detail || body.title);
      // "file 2 'notes.xyz': not a format ..." names the refused file: mark its row.
      var which = /^file (\d+) '[^]*?': ([^]*)$/.exec(detail || "");
      if (which && files[parseInt(which[1], 10) - 1]) {
        refused[parseInt(which[1], 10) - 1] = which[2];
        render();
        showError("One file was refused (marked below). Remove it and upload the rest.");
        return;
      }
      showError("Upload failed: " + (detail || ("the server answered " + xhr.status)) +
                (xhr.status === 401 ? " Sign in again." : ""));
    };
    xhr.onerror = function () {
      button.disabled = false;
      showError("Upload failed: the connection was lost. Check your network and try again.");
    };
    button.disabled = true;
    rows.forEach(function (r) { r.remove.disabled = true; });
    xhr.send(fd);
  });
}());
