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
  });
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
