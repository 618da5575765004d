// Small helpers for every page (no inline scripts: the CSP forbids them).
"use strict";
(function () {
  // <button data-confirm="..."> asks before submitting its form
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) {
      ev.preventDefault();
    }
  });
  // <select class="autosubmit"> submits its form on change
  document.querySelectorAll("select.autosubmit").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
    sel.form.querySelectorAll(".no-js").forEach(function (b) { b.hidden = true; });
  });
  // <button data-print> prints the page (the report's print stylesheet makes it one A4 page)
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  // before/after: both clips from their start, together
  var both = document.getElementById("play-both");
  if (both) {
    both.addEventListener("click", function () {
      var videos = Array.prototype.slice.call(document.querySelectorAll("#clips video"));
      var playing = videos.some(function (v) { return !v.paused; });
      videos.forEach(function (v) {
        if (playing) { v.pause(); } else { v.currentTime = 0; v.play(); }
      });
      both.textContent = playing ? "Play both" : "Pause";
    });
  }
})();

window.gaitStation = {
  // a number for the page: "—" when it was not measured, never 0
  num: function (v, digits, unit) {
    if (typeof v !== "number" || !isFinite(v)) { return "—"; }
    return v.toFixed(digits) + (unit || "");
  },
  // h:mm:ss or m:ss
  duration: function (s) {
    if (typeof s !== "number" || s < 0) { return "—"; }
    s = Math.round(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  },
  csrfToken: function () {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  },
  // POST JSON with the CSRF token in the X-CSRFToken header; resolves to {status, body}
  postJSON: function (url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": window.gaitStation.csrfToken()
      },
      body: JSON.stringify(data || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        return {status: r.status, body: body};
      });
    });
  }
};
