/* Registratura console: live queue over SSE, waiting-time counters, slot picking,
   confirmations and keyboard shortcuts.  Every page works without it; it only helps. */
(function () {
  "use strict";

  function fmtWait(s) {
    if (s < 60) return s + " с";
    if (s < 3600) return Math.floor(s / 60) + " мин " + String(s % 60).padStart(2, "0") + " с";
    return Math.floor(s / 3600) + " ч " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") +
      " мин";
  }

  /* Waiting times: the server says how long each call waited when the page (or the last
     update) was made; count on from there with the browser's own clock. */
  var waitBase = Date.now();
  function tickWaits() {
    var elapsed = Math.floor((Date.now() - waitBase) / 1000);
    document.querySelectorAll("[data-wait]").forEach(function (el) {
      var s = parseInt(el.getAttribute("data-wait"), 10) + elapsed;
      el.textContent = fmtWait(s);
    });
  }

  function startQueueFeed() {
    var rows = document.getElementById("queue-rows");
    if (!rows || !window.EventSource) return;
    var liveRows = document.getElementById("live-rows");
    var count = document.getElementById("queue-count");
    var link = document.getElementById("feed-state");
    var asterisk = document.getElementById("asterisk-state");
    var baseTitle = document.title;
    var source = new EventSource("/events");
    source.addEventListener("open", function () {
      if (link) { link.classList.add("on"); link.title = "обновляется в реальном времени"; }
    });
    source.addEventListener("error", function () {
      if (link) { link.classList.remove("on"); link.title = "нет связи, переподключение"; }
    });
    source.addEventListener("queue", function (ev) {
      var data = JSON.parse(ev.data);
      rows.innerHTML = data.html;          /* rendered and escaped by the server */
      if (liveRows) liveRows.innerHTML = data.live_html;
      if (count) count.textContent = String(data.count);
      if (asterisk) asterisk.textContent = data.asterisk_text;
      document.title = (data.count ? "(" + data.count + ") " : "") + baseTitle;
      waitBase = Date.now();
      tickWaits();
      if (data.answered) popAnswered(data.answered);
    });
    window.addEventListener("beforeunload", function () { source.close(); });
  }

  /* Asterisk connected an escalated call to this agent's phone: take it, which opens the
     patient card with what the IVR learned.  Once per call, even across reconnects. */
  function popAnswered(callId) {
    var key = "popped:" + callId;
    if (sessionStorage.getItem(key)) return;
    sessionStorage.setItem(key, "1");
    var token = document.querySelector("input[name=csrf_token]");
    var form = document.createElement("form");
    form.method = "post";
    form.action = "/calls/" + encodeURIComponent(callId) + "/take";
    var field = document.createElement("input");
    field.type = "hidden"; field.name = "csrf_token"; field.value = token ? token.value : "";
    form.appendChild(field);
    document.body.appendChild(form);
    form.submit();
  }

  /* Schedule grid: clicking a free slot fills the confirmation panel; Enter books. */
  function startSlotPicker() {
    var panel = document.getElementById("book-panel");
    if (!panel) return;
    var input = panel.querySelector("input[name=slot_id]");
    var text = document.getElementById("book-text");
    var confirmButton = panel.querySelector("button[type=submit]");
    var cancelButton = document.getElementById("book-cancel");
    var selected = null;
    function close() {
      panel.hidden = true;
      if (selected) { selected.classList.remove("selected"); selected.focus(); }
      selected = null;
    }
    document.querySelectorAll("button.slot[data-slot]").forEach(function (b) {
      b.addEventListener("click", function (ev) {
        ev.preventDefault();
        if (selected) selected.classList.remove("selected");
        selected = b;
        b.classList.add("selected");
        input.value = b.getAttribute("data-slot");
        text.textContent = b.getAttribute("data-label");
        panel.hidden = false;
        confirmButton.focus();
      });
    });
    if (cancelButton) cancelButton.addEventListener("click", function (ev) {
      ev.preventDefault(); close();
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && !panel.hidden) close();
    });
  }

  /* Forms that change something irreversible ask first. */
  function startConfirms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (ev) {
        if (!window.confirm(f.getAttribute("data-confirm"))) ev.preventDefault();
      });
    });
  }

  /* "/" jumps to the search field, as in most web apps. */
  function startShortcuts() {
    document.addEventListener("keydown", function (ev) {
      var tag = (ev.target && ev.target.tagName) || "";
      if (ev.key === "/" && !/INPUT|TEXTAREA|SELECT/.test(tag)) {
        var field = document.querySelector("[data-search]");
        if (field) { ev.preventDefault(); field.focus(); }
      }
    });
  }

  /* Selects marked data-autosubmit submit their form when changed. */
  function startAutoSubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    startQueueFeed();
    startSlotPicker();
    startConfirms();
    startShortcuts();
    startAutoSubmit();
    tickWaits();
    setInterval(tickWaits, 1000);
  });
})();
