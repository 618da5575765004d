// Live page: poll /api/live every second and update the page in place.
"use strict";
(function () {
  var root = document.getElementById("live");
  if (!root) { return; }
  var api = root.getAttribute("data-api");
  var previewUrl = root.getAttribute("data-preview");
  var noPreview = document.getElementById("preview").getAttribute("src");
  var POLL_MS = 1000;
  var PREVIEW_MS = 1000;
  var lastPreview = 0;
  var failures = 0;

  function $(id) { return document.getElementById(id); }
  function num(v, digits, unit) {
    if (typeof v !== "number" || !isFinite(v)) { return "—"; }
    return v.toFixed(digits) + (unit || "");
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

  function render(st) {
    var online = st.station && st.station.online;
    var station = $("station");
    station.className = "station " + (online ? "online" : "offline");
    setText("station", online ? "Station online" : "Station offline — showing what is stored");

    var s = st.session;
    show("session", !!s);
    show("recent", !!s);
    show("idle", !s);
    show("start-form", !s);
    show("stop-form", !!s);
    if (s) {
      setText("runner", s.runner || "(no name)");
      setText("elapsed", duration(s.elapsed_s));
      setText("steps", String(s.steps));
      setText("cadence", num(s.cadence_spm, 0));
      setText("drop-left", num(s.rolling.left.drop_excursion_deg, 1, "°"));
      setText("drop-right", num(s.rolling.right.drop_excursion_deg, 1, "°"));
      ["left", "right"].forEach(function (side) {
        $("side-" + side).className = "side level-" + (s.rolling[side].level || "none");
      });
      var cue = s.cue ? s.cue.state : "none";
      $("cue").className = "cue cue-" + cue;
      setText("cue", s.cue ? s.cue.state.split("_").join(" ") : "measuring");
      setText("cue-reason", s.cue ? s.cue.reason : "");
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
    } else if (st.last_session) {
      var p = $("last-session");
      p.textContent = "Last: ";
      var a = document.createElement("a");
      a.href = root.getAttribute("data-session-url").replace(/0$/, String(st.last_session.id));
      a.textContent = (st.last_session.runner || "(no name)") + ", " + (st.last_session.steps || 0) + " steps";
      p.appendChild(a);
    }
    setText("amber", num(st.amber_deg, 1, "°"));
    setText("red", num(st.red_deg, 1, "°"));

    var fr = $("framing");
    var f = st.framing || {ok: null, messages: []};
    fr.className = "framing " + (f.ok === true ? "ok" : (f.ok === false ? "bad" : "unknown"));
    setText("framing", f.ok === true ? "Framing OK" :
      (f.messages.length ? f.messages.join(" · ") : (online ? "Framing not checked yet" : "No camera: station offline")));

    var img = $("preview");
    var now = Date.now();
    if (st.preview) {
      if (now - lastPreview >= PREVIEW_MS) {
        lastPreview = now;
        img.src = previewUrl + "?t=" + now;
      }
    } else if (img.getAttribute("src") !== noPreview) {
      img.src = noPreview;
    }
  }

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
          $("station").className = "station offline";
          setText("station", "Web server not reachable");
        }
      })
      .then(function () { window.setTimeout(poll, POLL_MS); });
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

  window.setTimeout(poll, POLL_MS);
})();
