// Tandem agent console: local times, the live socket, the live inbox and the conversation page.
// Plain script, no dependencies, no build step. Every page works without it; this only adds
// live updates and sending without a page load. Message text is only ever set as textContent.
(function () {
  "use strict";

  var body = document.body, data = body.dataset, page = data.page || "";
  var zh = (data.lang || document.documentElement.lang || "").indexOf("zh") === 0;
  var NETWORK_ERROR = zh ? "网络错误，请重试。" : "Network error — please try again.";

  // ---------- Times ----------
  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function formatTime(el, now) {
    var ts = Number(el.getAttribute("data-ts")), d = new Date(ts);
    if (!isFinite(ts) || ts <= 0) return;
    now = now || new Date();
    var hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    var md = pad(d.getMonth() + 1) + "-" + pad(d.getDate());
    var text = d.toDateString() === now.toDateString() ? hm
      : d.getFullYear() === now.getFullYear() ? md + " " + hm : d.getFullYear() + "-" + md + " " + hm;
    if (el.textContent !== text) el.textContent = text;
    var full;
    try { full = d.toLocaleString(zh ? "zh-CN" : undefined, { dateStyle: "full", timeStyle: "medium" }); }
    catch (e) { full = d.toLocaleString(); }
    if (el.title !== full) el.title = full;
    if (!el.hasAttribute("datetime")) el.setAttribute("datetime", d.toISOString());
  }

  function formatAll(root) {
    var now = new Date();
    var list = (root || document).querySelectorAll("time[data-ts]");
    for (var i = 0; i < list.length; i++) formatTime(list[i], now);
  }

  formatAll();
  // Re-format now and then, so that "today" stays right past midnight.
  setInterval(function () { formatAll(); }, 60000);
  // Times added later (by this script or anything else) are formatted as they arrive.
  if (window.MutationObserver) {
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        Array.prototype.forEach.call(record.addedNodes, function (node) {
          if (node.nodeType !== 1) return;
          if (node.matches("time[data-ts]")) formatTime(node);
          else if (node.querySelector("time[data-ts]")) formatAll(node);
        });
      });
    }).observe(body, { childList: true, subtree: true });
  }

  // ---------- Live socket ----------
  var liveStatus = document.getElementById("live-status");
  var socket = null, attempt = 0, openedAt = 0, reconnectTimer = null, leaving = false;
  // Set by the page's setup: what to do with a frame, and after each (re)connect.
  var onFrame = function () {}, onConnected = function () {};

  function setLive(live) {
    if (!liveStatus) return;
    var text = live ? data.liveText : data.reconnectingText;
    liveStatus.setAttribute("data-state", live ? "live" : "connecting");
    if (text && liveStatus.textContent !== text) liveStatus.textContent = text;
  }

  function connect() {
    reconnectTimer = null;
    if (socket || leaving || !window.WebSocket) return;
    var ws, url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/console/ws";
    try { ws = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    socket = ws;
    ws.onopen = function () { openedAt = Date.now(); setLive(true); onConnected(); };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame.type === "string") onFrame(frame);
    };
    ws.onclose = function () {
      if (socket !== ws) return;
      socket = null;
      if (openedAt && Date.now() - openedAt > 10000) attempt = 0; // it lasted: back off anew
      openedAt = 0;
      if (!leaving) { setLive(false); scheduleReconnect(); }
    };
  }

  function scheduleReconnect() {
    if (reconnectTimer || leaving) return;
    // 1s, 2s, 4s... up to 15s, each ±25% so that many consoles do not reconnect in step.
    var base = Math.min(15000, 1000 * Math.pow(2, attempt++));
    reconnectTimer = setTimeout(connect, Math.min(15000, Math.round(base * (0.75 + Math.random() * 0.5))));
  }

  function reconnectNow() {
    if (socket || leaving) return;
    clearTimeout(reconnectTimer);
    attempt = 0;
    connect();
  }

  window.addEventListener("online", reconnectNow);
  window.addEventListener("pagehide", function () { leaving = true; });
  window.addEventListener("pageshow", function (event) { // back from the back-forward cache
    if (event.persisted) { leaving = false; setLive(!!socket); reconnectNow(); }
  });

  // A signed-out request is answered with the sign-in page: reload to get there.
  function signedOut(response) {
    if (response.status !== 401 && !(response.redirected && /\/login(\?|$)/.test(response.url))) return false;
    leaving = true;
    location.reload();
    return true;
  }

  // GETs a same-origin URL; resolves to the body (text or JSON), or null when signed out.
  function get(url, json) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: json ? "application/json" : "text/html" } })
      .then(function (response) {
        if (signedOut(response)) return null;
        if (!response.ok) throw new Error("HTTP " + response.status);
        return json ? response.json() : response.text();
      });
  }

  // ---------- Inbox ----------
  function setupInbox() {
    var container = document.getElementById("inbox-live");
    if (!container || !window.fetch) return;
    var view = data.view || "mine";
    var channel = data.channel || "";
    var timer = null, inFlight = false, queued = false, lastStart = 0;

    function schedule() {
      if (inFlight) { queued = true; return; }
      if (timer) return;
      // Gather a burst of events into one fetch, and fetch at most once per 300 ms.
      timer = setTimeout(refresh, Math.max(120, lastStart + 300 - Date.now()));
    }

    function refresh() {
      timer = null; inFlight = true; queued = false; lastStart = Date.now();
      var uri = "/inbox/live?view=" + encodeURIComponent(view);
      if (channel) uri += "&channel=" + encodeURIComponent(channel);
      get(uri, false)
        .then(function (html) {
          if (html === null) return;
          // The fragment is the server's own HTML. Keep keyboard focus on the same link.
          var active = document.activeElement;
          var href = active && container.contains(active) ? active.getAttribute("href") : null;
          container.innerHTML = html;
          formatAll(container);
          if (!href) return;
          var links = container.querySelectorAll("a[href]");
          for (var i = 0; i < links.length; i++) if (links[i].getAttribute("href") === href) { links[i].focus(); break; }
        })
        .catch(function () {})
        .then(function () {
          inFlight = false;
          if (queued) { queued = false; schedule(); }
        });
    }

    onFrame = function (frame) {
      if (frame.type === "message" || frame.type === "conversation" || frame.type === "resync") schedule();
    };
    onConnected = schedule;
  }

  // ---------- Conversation ----------
  function setupConversation() {
    var conversationId = data.conversationId;
    var transcript = document.getElementById("transcript");
    if (!conversationId || !transcript) return;
    var form = document.getElementById("composer");
    var find = function (selector) { return form ? form.querySelector(selector) : null; };
    var textarea = find("textarea[name=body]"), idInput = find("input[name=client_msg_id]");
    var noteRadio = find("input[name=kind][value=note]");
    var noteLabel = noteRadio && noteRadio.parentNode ? noteRadio.parentNode.textContent.trim() : "";
    var sendButton = document.getElementById("send-button"), errorBox = document.getElementById("composer-error");
    var stateChanged = document.getElementById("state-changed");
    var heading = document.querySelector(".thread-header h1");
    var customerName = heading ? heading.textContent.trim() : "";
    var KINDS = ["customer", "bot", "agent", "system", "note"];

    // The page may hold a message or two newer than its data-last-seq.
    var lastSeq = parseInt(data.lastSeq, 10) || 0;
    Array.prototype.forEach.call(transcript.querySelectorAll("li[data-seq]"), function (li) {
      lastSeq = Math.max(lastSeq, parseInt(li.getAttribute("data-seq"), 10) || 0);
    });
    var assigneeId; // undefined until the first frame or detail tells
    var reloading = false, fetching = false, fetchAgain = false;

    // The assist panel is the server's own HTML; it is fetched again when the customer writes
    // (a burst of messages is one fetch) and after a reply that used a suggestion.
    var assist = document.getElementById("assist");
    var assistTimer = null;
    function refreshAssist() {
      assistTimer = null;
      if (!assist || !window.fetch) return;
      get("/conversations/" + encodeURIComponent(conversationId) + "/assist", false)
        .then(function (html) {
          if (html === null) return;
          assist.innerHTML = html;
          formatAll(assist);
        })
        .catch(function () {});
    }
    function scheduleAssist() { if (!assistTimer) assistTimer = setTimeout(refreshAssist, 300); }

    function nearBottom() { return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80; }
    function scrollToBottom() { transcript.scrollTop = transcript.scrollHeight; }

    // The same labels the server renders: customer name, bot or agent name, "name · note".
    function authorFor(message, kind) {
      var name = message.author_name || "";
      if (kind === "customer") return customerName || name;
      if (kind === "bot" && !name) {
        var bots = transcript.querySelectorAll(".kind-bot .author");
        return bots.length ? bots[bots.length - 1].textContent : "";
      }
      if (kind === "note") return noteLabel ? name + " · " + noteLabel : name;
      return kind === "system" ? "" : name;
    }

    function element(tag, className, text) {
      var el = document.createElement(tag);
      if (className) el.className = className;
      el.textContent = text; // never innerHTML: message data is untrusted
      return el;
    }

    function messageElement(message) {
      var kind = KINDS.indexOf(message.author_kind) >= 0 ? message.author_kind : "system";
      var li = element("li", "message kind-" + kind, "");
      li.setAttribute("data-seq", String(message.seq));
      var author = authorFor(message, kind);
      if (author) li.appendChild(element("span", "author", author));
      li.appendChild(element("div", "bubble", message.body == null ? "" : String(message.body)));
      var time = element("time", "", "");
      time.setAttribute("data-ts", String(message.created_at));
      formatTime(time);
      li.appendChild(time);
      return li;
    }

    // Appends messages in seq order, skipping those already shown and stopping at a gap.
    function append(messages, forceScroll) {
      var stick = forceScroll || nearBottom();
      var sorted = messages.slice().sort(function (a, b) { return a.seq - b.seq; });
      for (var i = 0; i < sorted.length; i++) {
        var message = sorted[i];
        if (typeof message.seq !== "number" || message.seq <= lastSeq) continue;
        if (message.seq !== lastSeq + 1) break;
        transcript.appendChild(messageElement(message));
        lastSeq = message.seq;
      }
      if (stick) scrollToBottom();
    }

    // Reads everything after lastSeq; one request at a time, with one more queued if asked.
    function fetchMissed() {
      if (!window.fetch) return;
      if (fetching) { fetchAgain = true; return; }
      fetching = true;
      fetchAgain = false;
      var url = "/api/v1/conversations/" + encodeURIComponent(conversationId) + "/messages?after_seq=" + lastSeq;
      get(url, true)
        .then(function (result) {
          var messages = result && result.messages;
          if (!messages || !messages.length) return;
          append(messages, false);
          if (messages.length >= 200) fetchAgain = true; // a full page: there may be more
        })
        .catch(function () {})
        .then(function () {
          fetching = false;
          if (fetchAgain) fetchMissed();
        });
    }

    function reload() { reloading = true; location.reload(); }

    // Reload, unless that would lose a draft: then offer the ↻ link instead.
    function stateHasChanged() {
      if (reloading) return;
      if (textarea && textarea.value.trim()) { if (stateChanged) stateChanged.hidden = false; }
      else reload();
    }

    // The header's state, assignee and actions are rendered by the server: reload on a change.
    function checkConversation(conversation) {
      if (!conversation || String(conversation.id) !== String(conversationId)) return;
      var assignee = conversation.assignee_id == null ? null : conversation.assignee_id;
      if (conversation.state !== data.state) { stateHasChanged(); return; }
      if (assigneeId !== undefined && assignee !== assigneeId) { stateHasChanged(); return; }
      assigneeId = assignee;
    }

    function checkDetail() {
      if (!window.fetch) return;
      get("/api/v1/conversations/" + encodeURIComponent(conversationId), true)
        .then(function (detail) { if (detail) checkConversation(detail.conversation); })
        .catch(function () {});
    }

    onFrame = function (frame) {
      if (frame.type === "resync") { fetchMissed(); checkDetail(); return; }
      var conversation = frame.conversation;
      if (!conversation || String(conversation.id) !== String(conversationId)) return;
      if (frame.type === "message" && frame.message) {
        if (frame.message.author_kind === "customer") scheduleAssist();
        var seq = frame.message.seq;
        if (seq === lastSeq + 1) append([frame.message], false);
        else if (seq > lastSeq) fetchMissed();
      }
      checkConversation(conversation);
    };
    onConnected = function () { fetchMissed(); checkDetail(); scheduleAssist(); };

    scrollToBottom();
    // Late layout (fonts, the sidebar) can move the bottom: settle once more.
    window.addEventListener("load", function () { if (nearBottom() || transcript.scrollTop === 0) scrollToBottom(); });

    // Without fetch, the composer stays a plain form post.
    if (form && textarea && idInput && window.fetch) setupComposer();

    function setupComposer() {
      var sending = false, composing = false;

      function isNote() { return !!(noteRadio && noteRadio.checked); }
      function updateMode() {
        var note = isNote();
        form.classList.toggle("note-mode", note);
        var placeholder = textarea.getAttribute(note ? "data-note-placeholder" : "data-reply-placeholder");
        if (placeholder !== null) textarea.placeholder = placeholder;
      }
      function setError(text) { if (errorBox) errorBox.textContent = text || ""; }

      // Insert puts a suggested answer into the reply box to edit; the reply then says which
      // article it came from and whether it was sent as it was.
      var suggestionInput = find("input[name=suggestion]"), editedInput = find("input[name=suggestion_edited]");
      var insertedAnswer = "";
      function noteEdits() {
        if (!suggestionInput || !suggestionInput.value) return;
        if (!textarea.value.trim()) { forgetSuggestion(); return; }
        if (editedInput) editedInput.value = textarea.value.trim() === insertedAnswer.trim() ? "false" : "true";
      }
      function forgetSuggestion() {
        insertedAnswer = "";
        if (suggestionInput) suggestionInput.value = "";
        if (editedInput) editedInput.value = "false";
      }
      function putInReplyBox(text) {
        textarea.value = text;
        var replyRadio = find("input[name=kind][value=reply]");
        if (isNote() && replyRadio && !replyRadio.disabled) { replyRadio.checked = true; updateMode(); }
        if (errorBox && errorBox.textContent) setError("");
        textarea.focus();
      }
      if (assist) assist.addEventListener("click", function (event) {
        var closest = function (selector) { return event.target && event.target.closest ? event.target.closest(selector) : null; };
        var drafter = closest("button[data-draft]");
        if (drafter && !textarea.readOnly) { draft(drafter); return; }
        var runner = closest("button[data-run-action]");
        if (runner) { runAction(runner); return; }
        var result = closest("button[data-insert-result]");
        if (result && !textarea.readOnly) {
          var reply = result.parentNode.querySelector("[data-action-reply]");
          forgetSuggestion();
          putInReplyBox(reply ? reply.textContent : "");
          return;
        }
        var button = closest("button[data-insert]");
        if (!button || textarea.readOnly) return;
        insertedAnswer = button.getAttribute("data-answer") || "";
        if (suggestionInput) suggestionInput.value = button.getAttribute("data-insert") || "";
        if (editedInput) editedInput.value = "false";
        putInReplyBox(insertedAnswer);
      });

      // Draft with AI asks the model for a grounded draft and puts it into the reply box for the
      // agent to check and edit: it is never sent by itself. A rejected or refused draft leaves
      // the reply box alone and says why.
      function draft(button) {
        var status = button.parentNode.querySelector("[data-draft-status]");
        var say = function (key) { if (status) status.textContent = button.getAttribute(key) || ""; };
        button.disabled = true;
        say("data-drafting");
        fetch(button.getAttribute("data-draft"), {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRF-Token": data.csrf || "" },
        })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (json) {
            button.disabled = false;
            if (json && json.text) {
              forgetSuggestion();
              putInReplyBox(json.text);
              say("data-ready");
            } else if (json && json.llm && json.llm.outcome === "rejected") say("data-rejected");
            else if (json && json.llm && json.llm.outcome === "refused") say("data-refused");
            else say("data-failed");
          }, function () { button.disabled = false; say("data-failed"); });
      }

      // Run runs a business action for the agent with what the conversation gives it and shows
      // the reply it would have sent, with Insert: nothing reaches the customer by itself.
      function runAction(button) {
        var item = button.parentNode;
        var status = item.querySelector("[data-action-status]");
        var box = item.querySelector("[data-action-result]");
        var reply = item.querySelector("[data-action-reply]");
        button.disabled = true;
        if (status) status.textContent = button.getAttribute("data-running") || "";
        fetch(button.getAttribute("data-run-action"), {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRF-Token": data.csrf || "" },
        })
          .then(function (response) { return response.json().then(function (json) { return { ok: response.ok, json: json }; }); })
          .then(function (answer) {
            button.disabled = false;
            if (answer.ok && answer.json && reply && box) {
              reply.textContent = answer.json.reply || "";
              box.hidden = false;
              if (status) status.textContent = "";
            } else if (status) status.textContent = (answer.json && answer.json.message) || button.getAttribute("data-failed") || "";
          }, function () { button.disabled = false; if (status) status.textContent = button.getAttribute("data-failed") || ""; });
      }

      function newId() {
        var c = window.crypto;
        try { if (c && c.randomUUID) return c.randomUUID(); } catch (e) { /* not a secure context */ }
        var bytes = new Uint8Array(16);
        if (c && c.getRandomValues) c.getRandomValues(bytes);
        else for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
        return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
      }

      form.addEventListener("change", function (event) {
        if (event.target && event.target.name === "kind") { updateMode(); textarea.focus(); }
      });
      updateMode();

      textarea.addEventListener("compositionstart", function () { composing = true; });
      textarea.addEventListener("compositionend", function () { composing = false; });
      textarea.addEventListener("input", function () {
        if (errorBox && errorBox.textContent) setError("");
        noteEdits();
      });
      // Enter sends, Shift+Enter is a new line; an Enter that confirms IME input is not a send.
      textarea.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || event.shiftKey || event.altKey) return;
        if (event.isComposing || composing || event.keyCode === 229) return;
        event.preventDefault();
        send();
      });
      form.addEventListener("submit", function (event) { event.preventDefault(); send(); });

      function send() {
        if (sending) return;
        var text = textarea.value;
        if (!text.trim()) { textarea.focus(); return; }
        if (!idInput.value) idInput.value = newId();
        sending = textarea.readOnly = true;
        if (sendButton) sendButton.disabled = true;
        setError("");
        // A retry after an error reuses the same client_msg_id, so the server stores it once.
        var payload = { body: text, client_msg_id: idInput.value, note: isNote() };
        var usedSuggestion = !isNote() && suggestionInput && suggestionInput.value;
        if (usedSuggestion) {
          payload.suggestion = suggestionInput.value;
          payload.suggestion_edited = text.trim() !== insertedAnswer.trim();
        }
        fetch("/api/v1/conversations/" + encodeURIComponent(conversationId) + "/messages", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": data.csrf || "" },
          body: JSON.stringify(payload),
        })
          .then(function (response) {
            var wrap = function (json) { return { response: response, json: json }; };
            return response.json().then(wrap, function () { return wrap(null); });
          })
          .then(function (result) {
            var json = result.json;
            if (result.response.ok && json && json.message) {
              textarea.value = "";
              idInput.value = newId();
              forgetSuggestion();
              if (usedSuggestion) scheduleAssist();
              if (json.message.seq > lastSeq + 1) fetchMissed();
              else append([json.message], true);
              scrollToBottom();
              // Replying takes the conversation: the header's actions change with its state.
              var staleHeader = stateChanged && !stateChanged.hidden;
              if (json.conversation && (json.conversation.state !== data.state || staleHeader)) reload();
              else checkConversation(json.conversation);
              return;
            }
            var status = result.response;
            setError(json && json.message ? json.message : (status.status + " " + (status.statusText || "")).trim());
          })
          .catch(function () { setError(NETWORK_ERROR); })
          .then(function () {
            sending = textarea.readOnly = false;
            if (sendButton) sendButton.disabled = false;
            if (!reloading) textarea.focus();
          });
      }
    }
  }

  // ---------- Live desk ----------
  // Queues, agents and waiting conversations change with every event and with time (waits
  // grow): re-read the page's live part on each console frame (at most every 500 ms) and every
  // 5 s, unless someone is choosing whom to re-route to.
  function setupDesk() {
    var live = document.getElementById("desk-live");
    if (!live || !window.fetch || !window.DOMParser) return;
    var timer = null;
    function refresh() {
      timer = null;
      if (live.contains(document.activeElement) && document.activeElement.tagName === "SELECT") return;
      get("/desk", false).then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("desk-live");
        if (fresh) { live.innerHTML = fresh.innerHTML; formatAll(live); }
      }).catch(function () {});
    }
    function schedule() { if (!timer) timer = setTimeout(refresh, 500); }
    onFrame = function (frame) { if (frame.type === "conversation" || frame.type === "resync") schedule(); };
    setInterval(schedule, 5000);
  }

  if (page === "inbox") setupInbox();
  else if (page === "conversation") setupConversation();
  else if (page === "desk") setupDesk();

  // Every signed-in page shows the live status.
  if (liveStatus) connect();
})();
