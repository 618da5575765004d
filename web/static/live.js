// Live page: poll /api/live and update the page in place; refresh the camera preview fast enough to aim by.
"use strict";
(function () {
  var root = document.getElementById("live");
  if (!root) { return; }
  var api = root.getAttribute("data-api");
  var previewUrl = root.getAttribute("data-preview");
  var img = document.getElementById("preview");
  var noPreview = img.getAttribute("src");
  var POLL_MS = 1000;          // during a session
  var POLL_IDLE_MS = 500;      // between sessions: the set-up assistant's advice, level and distance
  var PREVIEW_MS = 250;        // the station writes a new preview four times a second
  var failures = 0;
  var previewOn = false;
  var previewBusy = false;
  var lastPreview = 0;
  var session = null;

  function $(id) { return document.getElementById(id); }
  function num(v, digits, unit) {
    if (typeof v !== "number" || !isFinite(v)) { return "—"; }
    if (Number(v.toFixed(digits)) === 0) { v = 0; }
    return v.toFixed(digits).replace("-", "\u2212") + (unit || "");
  }
  function duration(s) {
    if (typeof s !== "number" || s < 0) { return "—"; }
    s = Math.round(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }
  function setText(id, text) { var el = $(id); if (el && el.textContent !== text) { el.textContent = text; } }
  function show(id, on) { var el = $(id); if (el) { el.hidden = !on; } }
  function setClass(id, cls) { var el = $(id); if (el && el.className !== cls) { el.className = cls; } }

  function renderSession(s) {
    setText("runner", s.runner || "(no name)");
    setText("elapsed", duration(s.elapsed_s));
    setText("steps", String(s.steps));
    setText("cadence", num(s.cadence_spm, 0));
    var cue = s.cue && s.cue.state ? s.cue.state : "none";
    setClass("cue", "cue cue-" + cue);
    setText("cue", cue === "none" ? "measuring" : cue.split("_").join(" "));
    setText("cue-words", s.cue ? s.cue.words : "");
    ["left", "right"].forEach(function (side) {
      var r = s.rolling[side] || {};
      setText("drop-" + side, num(r.drop_excursion_deg, 1, "°"));
      setClass("side-" + side, "side level-" + (r.level || "none") + (s.cue && s.cue.side === side ? " judged" : ""));
      setText("level-" + side, r.uncertain ? "not enough steps yet" : r.level === "wait" ? "measuring" : (r.level || ""));
      setText("mean-" + side, typeof r.mean_deg === "number" ? "session mean " + num(r.mean_deg, 1, "°") +
        (typeof r.ci95_deg === "number" ? " ± " + num(r.ci95_deg, 1, "°") : "") : "");
      setText("lines-" + side, typeof r.amber_deg === "number" && typeof r.red_deg === "number" ?
        "amber " + num(r.amber_deg, 1, "°") + " · red " + num(r.red_deg, 1, "°") : "");
    });
    setText("amber", num(s.amber_deg, 1, "°"));
    setText("red", num(s.red_deg, 1, "°"));
    setText("hysteresis", num(s.hysteresis_deg, 1, "°"));
    var ol = $("last-steps");
    ol.textContent = "";
    s.last_steps.slice().reverse().forEach(function (step) {
      var li = document.createElement("li");
      var side = document.createElement("span");
      side.className = "side-" + step.side;
      side.textContent = step.side;
      li.appendChild(side);
      li.appendChild(document.createTextNode(" " + num(step.drop_excursion_deg, 1, "°")));
      ol.appendChild(li);
    });
  }

  function renderLast(last) {
    show("last-session", !!last);
    if (!last) { return; }
    var a = $("last-link");
    a.href = root.getAttribute("data-session-url").replace(/0$/, String(last.id));
    setText("last-link", last.runner || "(no name)");
    setText("last-when", new Date(last.started_at).toLocaleString([], {dateStyle: "medium", timeStyle: "short"}) +
      " · " + duration(last.duration_s));
    setText("last-left", num(last.drop.left.mean, 1, "°"));
    setText("last-right", num(last.drop.right.mean, 1, "°"));
    setText("last-cadence", num(last.cadence_spm, 0));
    setText("last-verdict", last.verdict.join(" "));
  }

  function renderSetup(st, online) {
    var f = st.framing || {ok: null, messages: []};
    setClass("framing", "framing " + (f.ok === true ? "ok" : (f.ok === false ? "bad" : "unknown")));
    setText("framing", f.ok === true ? "Framing OK" :
      (f.messages.length ? f.messages.join(" · ") : (online ? "Framing not checked yet" : "No camera: station offline")));
    var tilt = f.tilt_deg;
    $("level-line").setAttribute("transform", "rotate(" + (typeof tilt === "number" ? -tilt : 0) + " 60 22)");
    setText("level-text", typeof tilt === "number" ?
      (Math.abs(tilt) <= st.level_tol_deg ? "Level" : "Not level") + ": hip line " + num(tilt, 1, "°") :
      "Level: needs a runner in view");
    setText("distance-num", num(f.distance_m, 1, " m"));
    setText("distance-text", typeof f.distance_m === "number" ? "from the runner's size" :
      "distance: needs a runner in view");
    previewOn = !!st.preview;
    if (!previewOn && img.getAttribute("src") !== noPreview) { img.src = noPreview; }
    refreshPreview();
  }

  function render(st) {
    var online = st.station && st.station.online;
    setClass("station", "station " + (online ? "online" : "offline"));
    setText("station", online ? "Station online" : "Station offline — showing what is stored");
    session = st.session;
    show("session", !!session);
    show("recent", !!session);
    show("idle", !session);
    show("start-form", !session);
    show("stop-form", !!session);
    if (session) { renderSession(session); } else { renderLast(st.last_session); }
    renderSetup(st, online);
  }

  // a new preview as soon as the last one has loaded, at most every PREVIEW_MS
  function refreshPreview() {
    if (!previewOn || previewBusy) { return; }
    var wait = lastPreview + PREVIEW_MS - Date.now();
    if (wait > 0) { window.setTimeout(refreshPreview, wait); return; }
    previewBusy = true;
    lastPreview = Date.now();
    img.src = previewUrl + "?t=" + lastPreview;
  }
  img.addEventListener("load", function () { previewBusy = false; refreshPreview(); });
  img.addEventListener("error", function () { previewBusy = false; window.setTimeout(refreshPreview, 1000); });

  function poll() {
    fetch(api, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("login required"); }
        return r.json();
      })
      .then(function (st) { failures = 0; render(st); })
      .catch(function () {
        failures += 1;
        if (failures >= 3) {
          setClass("station", "station offline");
          setText("station", "Web server not reachable");
        }
      })
      .then(function () { window.setTimeout(poll, session ? POLL_MS : POLL_IDLE_MS); });
  }

  // the station carries a request out within a second or so; say so if it refused
  function follow(commandId, tries) {
    var first = $("command-message").textContent;
    if (tries > 15) { return; }
    window.setTimeout(function () {
      fetch(api + "/commands/" + commandId, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (c) {
          if (c.status === "pending") { follow(commandId, tries + 1); }
          else if (c.status === "failed") { setText("command-message", first + " The station refused: " + c.result + "."); }
          else if (c.status === "done") { setText("command-message", first + " Done: " + c.result + "."); }
        })
        .catch(function () { follow(commandId, tries + 1); });
    }, 1000);
  }

  function hookForm(id, payload) {
    var form = $(id);
    if (!form) { return; }  // read-only: no controls on the page
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      window.gaitStation.postJSON(form.action, payload(form)).then(function (res) {
        setText("command-message", res.body.message || res.body.error || ("error " + res.status));
        if (res.body.command_id) { follow(res.body.command_id, 0); }
      }).catch(function () {
        setText("command-message", "The web server did not answer.");
      }).then(function () {
        window.setTimeout(function () { button.disabled = false; }, 1500);
      });
    });
  }
  hookForm("start-form", function (form) { return {runner: form.elements.runner.value}; });
  hookForm("stop-form", function () { return {}; });

  previewOn = img.getAttribute("src") !== noPreview;
  window.setTimeout(poll, 300);
})();
