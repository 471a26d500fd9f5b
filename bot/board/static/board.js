// muster board: live updates by Server-Sent Events, ages and clocks
// ticking, buttons that run commands. Nothing is loaded from elsewhere.
(function () {
  "use strict";
  var main = document.getElementById("board");
  var live = document.getElementById("live");
  var toast = document.getElementById("toast");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  function span(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    if (h > 0) return h + "h " + (m < 10 ? "0" : "") + m + "m";
    if (m > 0) return m + "m " + (s % 60 < 10 ? "0" : "") + (s % 60) + "s";
    return (s % 60) + "s";
  }
  // Ages and clocks count on muster's clock, not the browser's: offset is
  // how far muster's was ahead when the board last came.
  var offset = 0;
  function sync() {
    var c = document.getElementById("clock");
    if (c) offset = Number(c.getAttribute("data-now")) - Date.now();
  }
  function tick() {
    var now = Date.now() + offset;
    main.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = span(now - Number(el.getAttribute("data-since")));
    });
    main.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Number(el.getAttribute("data-deadline")) - now;
      el.textContent = left >= 0 ? span(left) + " left" : span(-left) + " over";
      el.classList.toggle("overdue", left < 0);
    });
  }
  function say(text, error) {
    var d = document.createElement("div");
    d.textContent = text;
    if (error) d.className = "error";
    toast.appendChild(d);
    setTimeout(function () { d.remove(); }, 8000);
  }

  var es = new EventSource("/board/events");
  es.addEventListener("board", function (e) {
    main.innerHTML = e.data;
    sync();
    tick();
    document.body.setAttribute("data-updated", String(Date.now()));
  });
  es.addEventListener("signedout", function () { es.close(); location.reload(); });
  es.onopen = function () { live.textContent = "live"; live.className = "live on"; };
  es.onerror = function () { live.textContent = "reconnecting…"; live.className = "live off"; };
  setInterval(tick, 1000);
  sync();
  tick();

  main.addEventListener("click", function (e) {
    var b = e.target.closest("button[data-cmd]");
    if (!b) return;
    var text = "";
    var ask = b.getAttribute("data-prompt");
    if (ask) {
      text = window.prompt(ask) || "";
      if (!text.trim()) return;
    }
    var body = new URLSearchParams({ cmd: b.getAttribute("data-cmd"), ref: b.getAttribute("data-ref"), text: text });
    b.disabled = true;
    fetch("/board/action", { method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" }, body: body })
      .then(function (r) { return r.ok ? r.json() : r.text().then(function (t) { return { text: t, error: true }; }); })
      .then(function (r) { say(r.text, r.error); })
      .catch(function () { say("The board could not reach muster; try again.", true); })
      .finally(function () { b.disabled = false; });
  });
})();
