// The console's browser phone: a WebSocket to /phone/ws, prompts played with <audio>.
// Protocol: see ivr/transports/browser.py.  Plain JavaScript, no dependencies.
(function () {
  "use strict";

  var KEYS = "0123456789*#";
  var base = document.body.getAttribute("data-base") || "/phone";
  var statusEl = document.getElementById("status");
  var transcript = document.getElementById("transcript");
  var varsEl = document.getElementById("vars");
  var callBtn = document.getElementById("call");
  var callerInput = document.getElementById("caller");
  var buttons = document.querySelectorAll("#keypad button");

  var ws = null;
  var current = null;     // {id, kind: "play"|"ask", timeoutMs, timer}
  var callerLine = null;  // transcript line collecting the caller's keys for one answer
  var audio = new Audio();
  var playToken = 0;      // bumps on every stop, so late audio callbacks are ignored
  var variables = {};

  function setStatus(text, cls) {
    statusEl.textContent = text;
    statusEl.className = "status " + (cls || "");
  }

  function say(who, text) {
    var li = document.createElement("li");
    li.className = who;
    li.textContent = text;
    transcript.appendChild(li);
    transcript.scrollTop = transcript.scrollHeight;
    return li;
  }

  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(obj));
    }
  }

  function stopAudio() {
    playToken += 1;
    audio.onended = null;
    audio.onerror = null;
    try { audio.pause(); } catch (e) { /* nothing playing */ }
  }

  function clearTimer() {
    if (current && current.timer) {
      clearTimeout(current.timer);
      current.timer = null;
    }
  }

  function startTimer() {
    clearTimer();
    if (current && current.kind === "ask") {
      var id = current.id;
      current.timer = setTimeout(function () { send({ type: "timeout", id: id }); },
                                 current.timeoutMs || 5000);
    }
  }

  // Play the files one after the other, then call done() (also when audio fails or is
  // blocked).  A stopAudio() in between (barge-in, next prompt) cancels the rest silently.
  function playFiles(files, done) {
    stopAudio();
    var token = playToken;
    var queue = files.slice();
    function next() {
      if (token !== playToken) { return; }
      if (!queue.length) {
        audio.onended = null;
        audio.onerror = null;
        done();
        return;
      }
      var fired = false;
      var advance = function () {
        if (fired) { return; }
        fired = true;
        next();
      };
      audio.onended = advance;
      audio.onerror = advance;
      audio.src = queue.shift();
      var started = audio.play();
      if (started && started.catch) { started.catch(advance); }
    }
    next();
  }

  function showVars() {
    var parts = [];
    for (var name in variables) {
      if (Object.prototype.hasOwnProperty.call(variables, name)) {
        parts.push(name + "=" + variables[name]);
      }
    }
    varsEl.textContent = parts.join("  ");
  }

  function onMessage(event) {
    var msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    switch (msg.type) {
      case "play":
      case "ask":
        stopAudio();
        clearTimer();
        callerLine = null;
        current = { id: msg.id, kind: msg.type, timeoutMs: msg.timeout_ms || 0, timer: null };
        if (msg.text) { say("ivr", msg.text); }
        setStatus(msg.type === "ask" ? "Робот ждёт ответа" : "Говорит робот", "active");
        playFiles(msg.files || [], function () {
          send({ type: "played", id: msg.id });
          if (current && current.id === msg.id && current.kind === "ask") { startTimer(); }
        });
        break;
      case "input_done":
        if (current && current.id === msg.id) { clearTimer(); current = null; }
        callerLine = null;
        break;
      case "var":
        variables[msg.name] = msg.value;
        showVars();
        break;
      case "transfer":
        say("system", msg.text);
        setStatus(msg.text, "active");
        break;
      case "hangup":
        say("system", "Робот положил трубку");
        break;
      case "busy":
      case "error":
        say("system", msg.text || "Ошибка");
        break;
      case "end":
        finish(msg.outcome === "escalated" ? "Передано оператору" : "Звонок завершён");
        break;
      default:
        break;
    }
  }

  function press(key) {
    for (var i = 0; i < buttons.length; i++) {
      if (buttons[i].getAttribute("data-key") === key) {
        var b = buttons[i];
        b.classList.add("flash");
        setTimeout(function (btn) { return function () { btn.classList.remove("flash"); }; }(b), 150);
      }
    }
    if (!ws || ws.readyState !== WebSocket.OPEN) { return; }
    if (!callerLine) { callerLine = say("caller", ""); }
    callerLine.textContent += key;
    if (current) {
      stopAudio();  // barge-in: a key stops the prompt
      if (current.kind === "ask") { startTimer(); }
    }
    send({ type: "key", key: key });
  }

  function setKeypad(enabled) {
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = !enabled; }
  }

  function startCall() {
    if (ws) { return; }
    transcript.innerHTML = "";
    variables = {};
    showVars();
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var caller = callerInput.value.trim();
    // The caller number is personal data: it goes in the first message, never in the URL.
    ws = new WebSocket(proto + location.host + base + "/ws");
    ws.onopen = function () { ws.send(JSON.stringify({type: "start", caller: caller})); };
    setStatus("Соединение…", "active");
    callBtn.textContent = "Положить трубку";
    callBtn.classList.add("hangup");
    setKeypad(true);
    ws.onmessage = onMessage;
    ws.onclose = function () { finish(null); };
    ws.onerror = function () { say("system", "Нет связи с сервером"); };
  }

  function finish(text) {
    stopAudio();
    clearTimer();
    current = null;
    callerLine = null;
    if (ws) {
      var old = ws;
      ws = null;
      old.onclose = null;
      if (old.readyState === WebSocket.OPEN || old.readyState === WebSocket.CONNECTING) {
        old.close();
      }
    }
    setKeypad(false);
    callBtn.textContent = "Позвонить";
    callBtn.classList.remove("hangup");
    if (text) { setStatus(text, "ended"); } else if (statusEl.className.indexOf("ended") < 0) {
      setStatus("Звонок завершён", "ended");
    }
  }

  function hangUp() {
    if (!ws) { return; }
    send({ type: "hangup" });
    say("system", "Вы положили трубку");
    finish("Звонок завершён");
  }

  callBtn.addEventListener("click", function () { if (ws) { hangUp(); } else { startCall(); } });
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].addEventListener("click", function (e) {
      press(e.currentTarget.getAttribute("data-key"));
    });
  }
  document.addEventListener("keydown", function (e) {
    if (e.target === callerInput) {
      if (e.key === "Enter") { e.preventDefault(); startCall(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (e.key.length === 1 && KEYS.indexOf(e.key) >= 0) {
      e.preventDefault();
      press(e.key);
    } else if (e.key === "Enter" && !ws) {
      e.preventDefault();
      startCall();
    } else if (e.key === "Escape" && ws) {
      e.preventDefault();
      hangUp();
    }
  });
}());
