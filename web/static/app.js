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
