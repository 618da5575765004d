// The hub's live page: poll /api/stations every second; one card per station, updated in place.
"use strict";
(function () {
  var root = document.getElementById("hub");
  if (!root) { return; }
  var api = root.getAttribute("data-api");
  var commandsUrl = root.getAttribute("data-commands").replace(/0$/, "");
  var list = document.getElementById("stations");
  var template = document.getElementById("station-template");
  var POLL_MS = 1000;
  var failures = 0;

  var num = window.gaitStation.num;
  var duration = window.gaitStation.duration;
  function q(card, cls) { return card.querySelector("." + cls); }
  function setText(el, text) { if (el && el.textContent !== text) { el.textContent = text; } }

  function cardFor(id) {
    var cards = list.querySelectorAll(".station-card");
    for (var i = 0; i < cards.length; i++) {
      if (cards[i].getAttribute("data-station") === id) { return cards[i]; }
    }
    var card = template.content.firstElementChild.cloneNode(true);
    card.setAttribute("data-station", id);
    setText(q(card, "station-name"), id);
    ["js-start", "js-stop"].forEach(function (cls) {
      var form = q(card, cls);
      form.action = form.getAttribute("action").replace("__station__", encodeURIComponent(id));
      var button = form.querySelector("button");
      setText(button, button.textContent.replace("__station__", id));
    });
    list.appendChild(card);
    hook(card);
    var none = document.getElementById("no-stations");
    if (none) { none.hidden = true; }
    return card;
  }

  function render(st) {
    var card = cardFor(st.id);
    card.setAttribute("data-online", st.online ? "true" : "false");
    var badge = q(card, "js-online");
    badge.className = "badge js-online " + (st.online ? "badge-green" : "badge-red");
    setText(badge, st.online ? "online" : "offline");
    var s = st.session;
    q(card, "js-session").hidden = !s;
    q(card, "js-idle").hidden = !!s;
    setText(q(card, "js-idle"), st.online ? "No session running." : "Offline: start and stop are refused.");
    q(card, "js-start").hidden = !!s;
    q(card, "js-stop").hidden = !s;
    card.querySelectorAll("form button").forEach(function (b) { b.disabled = !st.online || b.dataset.busy === "1"; });
    setText(q(card, "js-totals"), st.sessions + (st.sessions === 1 ? " session, " : " sessions, ") + st.steps +
      " steps on the hub");
    if (s) {
      setText(q(card, "js-runner"), s.runner || "(no name)");
      var cue = q(card, "js-cue");
      cue.className = "cue js-cue cue-" + (s.cue || "none");
      setText(cue, (s.cue || "").split("_").join(" "));
      ["left", "right"].forEach(function (side) {
        q(card, "js-side-" + side).className = "js-side-" + side + " level-" + (s[side].level || "none");
        setText(q(card, "js-" + side), num(s[side].drop_deg, 1, "°"));
      });
      setText(q(card, "js-steps"), String(s.steps));
      setText(q(card, "js-cadence"), num(s.cadence_spm, 0));
      setText(q(card, "js-elapsed"), duration(s.elapsed_s));
    }
  }

  function poll() {
    fetch(api, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("login required"); }
        return r.json();
      })
      .then(function (state) {
        failures = 0;
        var online = 0;
        state.stations.forEach(function (st) { render(st); if (st.online) { online += 1; } });
        setText(document.getElementById("hub-status"), online + " of " + state.stations.length + " online");
      })
      .catch(function () {
        failures += 1;
        if (failures >= 3) { setText(document.getElementById("hub-status"), "Web server not reachable"); }
      })
      .then(function () { window.setTimeout(poll, POLL_MS); });
  }

  // the hub forwards the request to the station and stores its answer; say what it was
  function follow(card, commandId, first, tries) {
    if (tries > 25) { return; }
    window.setTimeout(function () {
      fetch(commandsUrl + commandId, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (c) {
          var msg = q(card, "js-message");
          if (c.status === "pending" || c.status === "sent") { follow(card, commandId, first, tries + 1); }
          else if (c.status === "failed") { setText(msg, first + " Refused: " + c.result + "."); }
          else if (c.status === "done") { setText(msg, first + " Done: " + c.result + "."); }
        })
        .catch(function () { follow(card, commandId, first, tries + 1); });
    }, 1000);
  }

  function hook(card) {
    ["js-start", "js-stop"].forEach(function (cls) {
      var form = q(card, cls);
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var button = form.querySelector("button");
        button.dataset.busy = "1";
        button.disabled = true;
        var payload = cls === "js-start" ? {runner: form.elements.runner.value} : {};
        window.gaitStation.postJSON(form.action, payload).then(function (res) {
          var text = res.body.message || res.body.error || ("error " + res.status);
          setText(q(card, "js-message"), text);
          if (res.body.command_id) { follow(card, res.body.command_id, text, 0); }
        }).catch(function () {
          setText(q(card, "js-message"), "The web server did not answer.");
        }).then(function () {
          window.setTimeout(function () { button.dataset.busy = "0"; }, 1500);
        });
      });
    });
  }

  list.querySelectorAll(".station-card").forEach(hook);
  window.setTimeout(poll, POLL_MS);
})();
