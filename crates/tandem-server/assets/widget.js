/*
 * Tandem web chat widget, served at /widget.js.
 * Plain ES2020, no dependencies, no build step. Embed with:
 *   <script src="https://host/widget.js" data-inbox="PUBLIC_KEY" data-lang="zh|en" async></script>
 * For a signed-in user of the site, add data-user-id, data-user-hash (the hex HMAC-SHA256 of the
 * id keyed with the inbox's identity secret, computed on the site's server) and optionally
 * data-user-name and data-user-email: the user is then one verified customer on every device.
 * Everything lives in the open shadow root of <tandem-widget>, so page CSS cannot leak in.
 * Under a Content-Security-Policy the site needs only Tandem's origin in script-src and
 * connect-src: no inline script, no eval, and the styles are a constructed stylesheet.
 */
(() => {
  'use strict';

  const script = document.currentScript || document.querySelector('script[data-inbox]');
  if (!script || window.__tandemWidget) return;
  const INBOX = script.getAttribute('data-inbox') || '';
  if (!INBOX) { console.warn('[tandem] <script data-inbox> is missing'); return; }
  window.__tandemWidget = true;

  const BASE = new URL(script.getAttribute('src') || location.href, location.href).origin;
  // Identity verification; dropped for the page's lifetime if Tandem rejects the hash.
  let IDENTITY = script.getAttribute('data-user-id') ? {
    user_id: script.getAttribute('data-user-id'),
    user_hash: script.getAttribute('data-user-hash') || '',
    name: script.getAttribute('data-user-name') || undefined,
    email: script.getAttribute('data-user-email') || undefined,
  } : null;
  const LANG = String(script.getAttribute('data-lang') || navigator.language || 'en')
    .toLowerCase().startsWith('zh') ? 'zh' : 'en';
  const MAX_CHARS = 5000;
  const PAGE = 200;
  const TYPING_MS = 15000;
  const PING_MS = 25000;

  // The sentences of each language ({ zh: {...}, en: {...} }): the [widget] tables of Tandem's
  // translation catalogue (crates/tandem-locales), which the server writes in here when it
  // serves this script.
  const I18N = /*TANDEM_STRINGS*/ {};
  const T = I18N[LANG];
  const fmt = (s, vars) => s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ''));

  // ---------- small helpers ----------
  const mem = {};
  const store = {
    key: (k) => `tandem:${INBOX}:${k}`,
    get(k) { try { return localStorage.getItem(this.key(k)) ?? mem[k] ?? null; } catch { return mem[k] ?? null; } },
    set(k, v) { mem[k] = v; try { localStorage.setItem(this.key(k), v); } catch { /* private mode */ } },
    del(k) { delete mem[k]; try { localStorage.removeItem(this.key(k)); } catch { /* ignore */ } },
  };
  const newId = () => {
    const c = window.crypto;
    if (c && typeof c.randomUUID === 'function') { try { return c.randomUUID(); } catch { /* insecure context */ } }
    const b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b); else for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const charCount = (s) => Array.from(s).length;
  const pad = (n) => String(n).padStart(2, '0');
  const hhmm = (ms) => { const d = new Date(ms); return isNaN(d.getTime()) ? '' : `${pad(d.getHours())}:${pad(d.getMinutes())}`; };
  const KINDS = ['customer', 'bot', 'agent', 'system'];
  // The optional `meta` of a server message: the source articles' titles (a reply to several
  // questions has more than one) and the offered quick replies.
  const titleOf = (src) => (src && typeof src === 'object' && src.title != null ? String(src.title).trim() : '');
  const metaOf = (m) => {
    const meta = m && m.meta && typeof m.meta === 'object' ? m.meta : {};
    const more = Array.isArray(meta.more_sources) ? meta.more_sources : [];
    const titles = [meta.source, ...more].map(titleOf).filter(Boolean);
    const quick = Array.isArray(meta.quick_replies) ? meta.quick_replies : [];
    return {
      source: titles.length ? [...new Set(titles)].join(' · ') : null,
      quick: [...new Set(quick.filter((q) => typeof q === 'string').map((q) => q.trim()).filter(Boolean))],
    };
  };

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (S.token) headers.Authorization = `Bearer ${S.token}`;
    const res = await fetch(BASE + path, {
      method, headers, credentials: 'omit', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch { /* empty or non-JSON body */ }
    if (!res.ok) {
      const err = new Error((data && data.message) || `HTTP ${res.status}`);
      err.status = res.status;
      err.code = data && data.code;
      const ra = res.headers.get('Retry-After');
      if (ra) {
        let secs = Number(ra);
        if (!Number.isFinite(secs)) { const at = Date.parse(ra); secs = isNaN(at) ? 0 : (at - Date.now()) / 1000; }
        err.retryAfter = Math.min(Math.max(secs, 1), 120);
      }
      throw err;
    }
    return data;
  }

  // ---------- state ----------
  const S = {
    token: null, customer: null, inbox: null, conv: null,
    list: [],            // message records, sorted by seq; pending ones (seq null) at the end
    bySeq: new Map(), byCid: new Map(),
    cursor: 0,           // highest seq received from an in-order stream (GET or WebSocket)
    ws: null, online: false, everOnline: false, attempt: 0, retryTimer: 0, pingTimer: 0,
    started: false, readyP: null, resetP: null, syncP: null, syncAgain: false,
    chain: Promise.resolve(), draft: null, open: false, unread: 0, typingTimer: 0, noticeTimer: 0,
    quickFor: null,      // the message whose quick replies are shown
    csat: null,          // the resolved conversation whose satisfaction questions are asked: { conv }
  };
  let ui = null;

  // ---------- styles & markup ----------
  const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.root { font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC", "Helvetica Neue", Arial, sans-serif;
  font-size: 14px; line-height: 1.5; color: #0f172a; -webkit-font-smoothing: antialiased; }
button { font: inherit; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 58px; height: 58px; padding: 0;
  border: 0; border-radius: 50%; background: #2563eb; color: #fff; cursor: pointer; display: flex; align-items: center;
  justify-content: center; box-shadow: 0 8px 24px rgba(37,99,235,.35), 0 2px 6px rgba(15,23,42,.15);
  transition: transform .15s ease, background-color .15s ease; }
.launcher:hover { background: #1d4ed8; transform: translateY(-1px) scale(1.04); }
.launcher svg { width: 26px; height: 26px; }
.launcher .ic-close, .root.open .launcher .ic-chat { display: none; }
.root.open .launcher .ic-close { display: block; }
.badge { position: absolute; top: -3px; right: -3px; min-width: 22px; height: 22px; padding: 0 6px; border-radius: 11px;
  background: #ef4444; color: #fff; font-size: 12px; font-weight: 600; line-height: 18px; text-align: center; border: 2px solid #fff; }
button:focus-visible, textarea:focus-visible, .msg:focus-visible { outline: 3px solid rgba(37,99,235,.45); outline-offset: 2px; }
.panel { position: fixed; right: 20px; bottom: 92px; z-index: 2147483000; width: 376px; height: 600px;
  max-height: calc(100vh - 112px); display: flex; flex-direction: column; background: #fff; border-radius: 18px;
  overflow: hidden; box-shadow: 0 18px 50px rgba(15,23,42,.20), 0 2px 8px rgba(15,23,42,.08); animation: tw-in .18s ease-out; }
@keyframes tw-in { from { opacity: 0; transform: translateY(12px) scale(.98); } to { opacity: 1; transform: none; } }
.header { display: flex; align-items: center; gap: 10px; padding: 14px 12px 14px 16px; color: #fff;
  background: linear-gradient(135deg, #2563eb 0%, #1e40af 100%); flex: none; }
.avatar { width: 38px; height: 38px; flex: none; border-radius: 50%; background: rgba(255,255,255,.2); display: flex;
  align-items: center; justify-content: center; font-weight: 600; font-size: 16px; }
.head-text { flex: 1; min-width: 0; }
.title { margin: 0; font-size: 16px; font-weight: 600; line-height: 1.3; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.status { display: flex; align-items: center; gap: 6px; min-height: 18px; font-size: 12px; opacity: .92;
  word-break: keep-all; overflow-wrap: anywhere; }
.status::before { content: ""; flex: none; width: 7px; height: 7px; border-radius: 50%; background: #fbbf24; }
.status.on::before { background: #4ade80; }
.status:empty::before { display: none; }
.handoff { flex: none; padding: 5px 11px; border-radius: 999px; border: 1px solid rgba(255,255,255,.55);
  background: rgba(255,255,255,.12); color: #fff; font-size: 12px; cursor: pointer; white-space: nowrap; }
.handoff:hover:not(:disabled) { background: rgba(255,255,255,.24); }
.handoff:disabled { opacity: .5; cursor: default; }
.close { flex: none; width: 32px; height: 32px; padding: 0; border: 0; border-radius: 8px; background: transparent;
  color: #fff; cursor: pointer; display: flex; align-items: center; justify-content: center; }
.close:hover { background: rgba(255,255,255,.16); }
.close svg { width: 20px; height: 20px; }
.scroll { flex: 1; min-height: 0; overflow-y: auto; padding: 16px 14px 12px; background: #f8fafc; overscroll-behavior: contain; }
.welcome { margin: 4px auto 16px; max-width: 85%; text-align: center; color: #64748b; font-size: 13px; }
.list { display: flex; flex-direction: column; gap: 10px; }
.msg { display: flex; flex-direction: column; align-items: flex-start; min-width: 0; }
.msg.customer { align-items: flex-end; }
.msg.system { align-items: center; }
.name { margin: 0 0 3px 4px; font-size: 12px; color: #64748b; }
.bubble { max-width: 82%; padding: 9px 13px; border-radius: 16px 16px 16px 4px; background: #fff; border: 1px solid #e2e8f0;
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; }
.customer .bubble { background: #2563eb; border-color: #2563eb; color: #fff; border-radius: 16px 16px 4px 16px; }
.agent .bubble { background: #ecfdf5; border-color: #a7f3d0; }
.system .bubble { max-width: 90%; padding: 3px 10px; border: 0; border-radius: 999px; background: #e2e8f0; color: #475569;
  font-size: 12px; text-align: center; }
.pending .bubble { opacity: .6; }
.meta { margin: 3px 4px 0; font-size: 11px; color: #94a3b8; }
.source { max-width: 82%; margin: 3px 4px 0; font-size: 11px; color: #64748b; overflow-wrap: anywhere; }
.quick { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.quick button { max-width: 100%; min-height: 32px; padding: 5px 12px; border: 1px solid #2563eb; border-radius: 999px;
  background: #fff; color: #2563eb; font-size: 13px; line-height: 1.4; text-align: left; overflow-wrap: anywhere; cursor: pointer;
  transition: background-color .15s ease; }
.quick button:hover { background: #eff6ff; }
.quick button:active { background: #dbeafe; }
.failed { cursor: pointer; }
.failed .bubble { background: #fff; color: #b91c1c; border-color: #fca5a5; }
.failed .meta { color: #dc2626; }
.typing { display: flex; gap: 4px; width: fit-content; margin-top: 10px; padding: 12px 14px; background: #fff;
  border: 1px solid #e2e8f0; border-radius: 16px 16px 16px 4px; }
.typing span { width: 6px; height: 6px; border-radius: 50%; background: #94a3b8; animation: tw-dot 1.2s infinite ease-in-out; }
.typing span:nth-child(2) { animation-delay: .15s; }
.typing span:nth-child(3) { animation-delay: .3s; }
@keyframes tw-dot { 0%, 60%, 100% { transform: translateY(0); opacity: .45; } 30% { transform: translateY(-4px); opacity: 1; } }
.notice { flex: none; margin: 8px 12px 0; padding: 6px 10px; border-radius: 8px; background: #fef2f2; color: #b91c1c; font-size: 12px; }
.composer { flex: none; display: flex; align-items: flex-end; gap: 8px; padding: 10px 12px;
  padding-bottom: calc(10px + env(safe-area-inset-bottom, 0px)); background: #fff; border-top: 1px solid #e2e8f0; }
textarea { flex: 1; min-width: 0; height: 42px; min-height: 42px; max-height: 128px; margin: 0; padding: 10px 13px; resize: none;
  border: 1px solid #cbd5e1; border-radius: 14px; background: #fff; color: inherit; font: inherit; line-height: 1.45; outline: none; }
textarea:focus { border-color: #2563eb; box-shadow: 0 0 0 3px rgba(37,99,235,.15); }
textarea::placeholder { color: #94a3b8; }
.send { flex: none; width: 42px; height: 42px; padding: 0; border: 0; border-radius: 50%; background: #2563eb; color: #fff;
  cursor: pointer; display: flex; align-items: center; justify-content: center; transition: background-color .15s ease; }
.send:hover { background: #1d4ed8; }
.send svg { width: 20px; height: 20px; }
.csat { margin-top: 12px; padding: 12px 14px; background: #fff; border: 1px solid #e2e8f0; border-radius: 14px; }
.csat-q { margin-bottom: 10px; }
.csat-text { margin: 0 0 6px; font-size: 13px; color: #334155; }
.csat-scale { display: flex; gap: 6px; flex-wrap: wrap; }
.csat-scale button, .csat-yesno button { min-width: 36px; height: 36px; padding: 0 10px; border: 1px solid #cbd5e1; border-radius: 10px;
  background: #fff; color: #475569; cursor: pointer; font-size: 15px; }
.csat-scale.stars button { border: 0; padding: 0 2px; min-width: 32px; font-size: 26px; line-height: 1; color: #cbd5e1; background: transparent; }
.csat-scale.stars button.on { color: #f59e0b; }
.csat-scale:not(.stars) button.on, .csat-yesno button.on { background: #2563eb; border-color: #2563eb; color: #fff; }
.csat-yesno { display: flex; gap: 8px; }
.csat textarea { display: block; width: 100%; height: 64px; max-height: 120px; flex: none; resize: vertical; }
.csat-submit { margin-top: 4px; padding: 7px 16px; border: 0; border-radius: 999px; background: #2563eb; color: #fff; cursor: pointer; }
.csat-submit:disabled { opacity: .5; cursor: default; }
.csat-thanks { margin: 0; text-align: center; color: #047857; }
@media (max-width: 479.98px) {
  .panel { top: 0; left: 0; right: 0; bottom: 0; width: auto; height: auto; max-height: none; border-radius: 0; }
  .root.open .launcher { display: none; }
  textarea { font-size: 16px; }
}
@media (prefers-reduced-motion: reduce) { .panel, .typing span, .launcher { animation: none; transition: none; } }
`;
  const ICON_CHAT = '<svg class="ic-chat" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"/><path d="M8.5 11h.01M12 11h.01M15.5 11h.01"/></svg>';
  const ICON_X = (cls) => `<svg class="${cls}" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>`;
  const ICON_SEND = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M22 2L11 13"/><path d="M22 2l-7 20-4-9-9-4 20-7z"/></svg>';
  const HTML = `
<div class="root">
  <div class="panel" id="tw-panel" data-testid="panel" role="dialog" aria-modal="false" hidden>
    <div class="header">
      <div class="avatar" aria-hidden="true"></div>
      <div class="head-text">
        <h2 class="title" data-testid="title"></h2>
        <div class="status" data-testid="status" role="status" aria-live="polite"></div>
      </div>
      <button type="button" class="handoff" data-testid="handoff"></button>
      <button type="button" class="close" data-testid="close">${ICON_X('')}</button>
    </div>
    <div class="scroll">
      <p class="welcome" data-testid="welcome"></p>
      <div class="list" data-testid="messages" role="log" aria-live="polite"></div>
      <div class="quick" data-testid="quick-replies" role="group" hidden></div>
      <div class="typing" data-testid="typing" role="status" hidden><span></span><span></span><span></span></div>
      <div class="csat" data-testid="csat" role="form" hidden></div>
    </div>
    <div class="notice" data-testid="notice" role="alert" hidden></div>
    <div class="composer">
      <textarea data-testid="input" rows="1" enterkeyhint="send"></textarea>
      <button type="button" class="send" data-testid="send">${ICON_SEND}</button>
    </div>
  </div>
  <button type="button" class="launcher" data-testid="launcher" aria-expanded="false" aria-controls="tw-panel">
    ${ICON_CHAT}${ICON_X('ic-close')}<span class="badge" data-testid="unread" aria-hidden="true" hidden></span>
  </button>
</div>`;

  // ---------- mounting ----------
  function mount() {
    if (document.querySelector('tandem-widget')) return;
    if (!customElements.get('tandem-widget')) customElements.define('tandem-widget', class extends HTMLElement {});
    const host = document.createElement('tandem-widget');
    const root = host.attachShadow({ mode: 'open' });
    // A constructed stylesheet, not a <style> element: Content-Security-Policy's style-src
    // does not govern it, so the widget needs nothing of the host page's policy beyond its
    // script and its connections to Tandem ('unsafe-inline' would be needed for <style>).
    // Browsers without constructed stylesheets get the element.
    let sheet = null;
    try {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch { sheet = null; }
    root.innerHTML = sheet ? HTML : `<style>${CSS}</style>${HTML}`;
    const q = (id) => root.querySelector(`[data-testid="${id}"]`);
    ui = {
      root: root.querySelector('.root'), panel: q('panel'), title: q('title'), status: q('status'),
      avatar: root.querySelector('.avatar'), handoff: q('handoff'), close: q('close'), scroll: root.querySelector('.scroll'),
      welcome: q('welcome'), list: q('messages'), typing: q('typing'), notice: q('notice'), input: q('input'),
      send: q('send'), launcher: q('launcher'), badge: q('unread'), quick: q('quick-replies'),
      csat: q('csat'),
    };
    ui.root.lang = LANG === 'zh' ? 'zh-CN' : 'en';
    ui.handoff.textContent = T.handoff;
    ui.handoff.setAttribute('aria-label', T.handoff_label);
    ui.close.setAttribute('aria-label', T.minimize);
    ui.close.title = T.minimize;
    ui.list.setAttribute('aria-label', T.messages);
    ui.quick.setAttribute('aria-label', T.quick_replies);
    ui.csat.setAttribute('aria-label', T.csat_form);
    ui.input.placeholder = T.placeholder;
    ui.input.setAttribute('aria-label', T.input);
    ui.send.setAttribute('aria-label', T.send);
    ui.send.title = T.send;
    ui.launcher.setAttribute('aria-label', T.open_chat);
    applyInbox();

    ui.launcher.addEventListener('click', () => setOpen(!S.open, true));
    ui.close.addEventListener('click', () => setOpen(false, true));
    ui.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !e.isComposing) { e.preventDefault(); setOpen(false, true); }
    });
    ui.send.addEventListener('click', () => { onSend(); ui.input.focus(); });
    ui.handoff.addEventListener('click', onHandoff);
    ui.input.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' || e.shiftKey || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.isComposing || e.keyCode === 229) return; // Enter that confirms an IME composition
      e.preventDefault();
      onSend();
    });
    ui.input.addEventListener('input', () => {
      autosize();
      const n = charCount(ui.input.value.trim());
      if (n > MAX_CHARS) notify(fmt(T.too_long, { max: MAX_CHARS, n }), 0, 'tooLong');
      else if (ui.notice.dataset.kind === 'tooLong') notify('');
    });

    document.body.appendChild(host);
    renderStatus();
    renderWelcome();
    if (store.get('token')) boot();
    if (store.get('open') === '1') setOpen(true, false);

    document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') resume(); });
    window.addEventListener('online', resume);
  }

  function applyInbox() {
    const name = (S.inbox && S.inbox.name) || T.title;
    ui.title.textContent = name;
    ui.avatar.textContent = Array.from(name)[0] || '';
    ui.panel.setAttribute('aria-label', `${name} – ${T.dialog}`);
    const bot = (S.inbox && S.inbox.bot_name) || '';
    ui.welcome.textContent = bot ? fmt(T.welcome, { bot }) : T.welcome_no_bot;
    ui.typing.setAttribute('aria-label', fmt(T.typing, { bot: bot || T.bot }));
  }

  // ---------- open / close ----------
  function setOpen(open, byUser) {
    S.open = open;
    store.set('open', open ? '1' : '0');
    ui.panel.hidden = !open;
    ui.root.classList.toggle('open', open);
    ui.launcher.setAttribute('aria-expanded', String(open));
    ui.launcher.setAttribute('aria-label', open ? T.close_chat : T.open_chat);
    if (open) {
      S.unread = 0;
      renderUnread();
      if (!S.started) boot();
      renderStatus();
      scrollToBottom();
      if (byUser) ui.input.focus();
    } else if (byUser) {
      ui.launcher.focus();
    }
  }

  function renderUnread() {
    ui.badge.hidden = !S.unread;
    ui.badge.textContent = S.unread > 9 ? '9+' : String(S.unread);
    if (!S.open) ui.launcher.setAttribute('aria-label', S.unread ? `${T.open_chat} (${fmt(T.unread, { n: S.unread })})` : T.open_chat);
  }

  function notify(text, ms = 6000, kind = '') {
    clearTimeout(S.noticeTimer);
    ui.notice.textContent = text;
    ui.notice.hidden = !text;
    ui.notice.dataset.kind = text ? kind : '';
    if (text && ms) S.noticeTimer = setTimeout(() => notify(''), ms);
  }

  /** Where a waiting customer stands: position, estimate, or that nobody is in now. */
  function queueText(q) {
    if (!q) return [];
    if (!q.open) return [T.closed];
    const parts = [fmt(T.position, { n: q.position })];
    // No estimate while the queue is open: nobody online could take it now.
    if (q.eta_seconds == null) parts.push(T.nobody_free);
    else parts.push(fmt(T.eta, { min: Math.max(1, Math.round(q.eta_seconds / 60)) }));
    return parts;
  }

  function renderStatus() {
    if (!ui) return;
    const c = S.conv;
    let text = '';
    if (c && c.state === 'queued') text = [T.queued, ...queueText(c.queue)].join(' · ');
    else if (c && c.state === 'human') text = fmt(T.human, { name: c.assignee_name || T.agent });
    else if (c && c.state === 'resolved') text = T.resolved;
    else if (c && c.follow_up_at) {
      const time = new Date(c.follow_up_at).toLocaleString(LANG === 'zh' ? 'zh-CN' : 'en', { weekday: 'short', hour: '2-digit', minute: '2-digit' });
      text = fmt(T.follow_up, { time });
    }
    let conn = '';
    if (S.online) conn = text ? '' : T.online;
    else if (S.started) conn = S.everOnline ? T.reconnecting : T.connecting;
    ui.status.textContent = [text, conn].filter(Boolean).join(' · ');
    ui.status.classList.toggle('on', S.online);
    ui.handoff.disabled = !!c && (c.state === 'queued' || c.state === 'human');
  }

  function renderWelcome() { ui.welcome.hidden = S.list.length > 0; }

  const nearBottom = () => ui.scroll.scrollHeight - ui.scroll.scrollTop - ui.scroll.clientHeight < 80;
  function scrollToBottom() { ui.scroll.scrollTop = ui.scroll.scrollHeight; }

  function autosize() {
    ui.input.style.height = 'auto';
    ui.input.style.height = `${Math.min(ui.input.scrollHeight + 2, 128)}px`;
  }

  function showTyping(on) {
    clearTimeout(S.typingTimer);
    const stick = nearBottom();
    ui.typing.hidden = !on;
    if (on) S.typingTimer = setTimeout(() => showTyping(false), TYPING_MS);
    if (on && stick) scrollToBottom();
  }

  // ---------- messages ----------
  function buildEl(rec) {
    const el = document.createElement('div');
    el.dataset.testid = 'message';
    if (rec.kind !== 'customer' && rec.kind !== 'system') {
      const name = document.createElement('div');
      name.className = 'name';
      name.textContent = rec.name || (rec.kind === 'bot' ? (S.inbox && S.inbox.bot_name) || T.bot : T.agent);
      el.append(name);
    }
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    const meta = document.createElement('div');
    meta.className = 'meta';
    el.append(bubble, meta);
    if (rec.kind === 'bot' && rec.source) {
      const src = document.createElement('div');
      src.className = 'source';
      src.dataset.testid = 'source';
      src.textContent = fmt(T.source, { title: rec.source });
      el.append(src);
    }
    el.addEventListener('click', () => retry(rec));
    el.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { if (rec.status === 'failed') { e.preventDefault(); retry(rec); } }
    });
    rec.el = el; rec.bubble = bubble; rec.meta = meta;
    return el;
  }

  function paint(rec) {
    const el = rec.el;
    const kind = KINDS.includes(rec.kind) ? rec.kind : 'bot';
    el.className = `msg ${kind} ${rec.status}`;
    el.dataset.seq = rec.seq == null ? '' : String(rec.seq);
    el.dataset.authorKind = rec.kind;
    el.dataset.status = rec.status;
    if (rec.cid) el.dataset.clientMsgId = rec.cid;
    rec.bubble.textContent = rec.body;
    rec.bubble.title = hhmm(rec.at);
    rec.meta.textContent = rec.status === 'pending' ? T.sending : rec.status === 'failed' ? T.failed : '';
    rec.meta.hidden = !rec.meta.textContent;
    if (rec.status === 'failed') {
      el.tabIndex = 0;
      el.setAttribute('role', 'button');
      el.setAttribute('aria-label', `${T.retry}: ${rec.body.slice(0, 80)}`);
    } else {
      el.removeAttribute('tabindex');
      el.removeAttribute('role');
      el.removeAttribute('aria-label');
    }
  }

  // Keep S.list sorted by seq (pending ones last) and mirror the order in the DOM.
  function place(rec) {
    const at = S.list.indexOf(rec);
    if (at >= 0) S.list.splice(at, 1);
    let i = S.list.length;
    if (rec.seq != null) while (i > 0 && (S.list[i - 1].seq == null || S.list[i - 1].seq > rec.seq)) i--;
    S.list.splice(i, 0, rec);
    if (!rec.el) buildEl(rec);
    const next = S.list[i + 1];
    ui.list.insertBefore(rec.el, next ? next.el : null);
    paint(rec);
    renderQuick();
  }

  // Only the newest message, when it is a bot message, offers its quick replies.
  function renderQuick() {
    const last = S.list[S.list.length - 1];
    const rec = last && last.kind === 'bot' && last.quick && last.quick.length ? last : null;
    if (rec === S.quickFor) return;
    S.quickFor = rec;
    ui.quick.replaceChildren();
    ui.quick.hidden = !rec;
    if (!rec) return;
    for (const text of rec.quick) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.testid = 'quick-reply';
      b.textContent = text;
      b.addEventListener('click', (e) => {
        if (S.quickFor !== rec || !sendText(text)) return;
        S.quickFor = null;
        ui.quick.replaceChildren();
        ui.quick.hidden = true;
        // Keep keyboard focus in the chat; spare touch users the on-screen keyboard.
        if (e.detail === 0 || !(window.matchMedia && matchMedia('(pointer: coarse)').matches)) ui.input.focus();
      });
      ui.quick.append(b);
    }
  }

  // source: 'ws' | 'sync' (both in-order streams that advance the cursor) | 'ack' (POST response)
  function ingest(msgs, source) {
    const stick = nearBottom();
    let added = false, ownConfirmed = false;
    for (const m of msgs) {
      if (!m || typeof m.seq !== 'number') continue;
      if (source !== 'ack' && m.seq > S.cursor) S.cursor = m.seq;
      if (S.bySeq.has(m.seq)) continue;
      let rec = m.client_msg_id ? S.byCid.get(m.client_msg_id) : null;
      if (rec && rec.seq != null) continue;
      if (rec) {
        Object.assign(rec, { id: m.id, seq: m.seq, body: m.body, at: m.created_at, status: 'sent' });
        ownConfirmed = true;
      } else {
        rec = {
          id: m.id, seq: m.seq, cid: m.client_msg_id || null, kind: m.author_kind, name: m.author_name,
          body: String(m.body ?? ''), at: m.created_at, status: 'sent', el: null, ...metaOf(m),
        };
        if (rec.cid) S.byCid.set(rec.cid, rec);
        added = true;
      }
      S.bySeq.set(rec.seq, rec);
      place(rec);
      if (rec.kind !== 'customer') {
        if (S.draft && rec.seq > S.draft.replyTo) dropDraft();
        showTyping(false);
        if (source === 'ws' && !S.open && rec.kind !== 'system') S.unread++;
      }
    }
    if (added || ownConfirmed) {
      renderWelcome();
      if (!S.open) renderUnread();
      if (stick || source === 'sync') scrollToBottom();
    }
  }

  // A bot reply being written: shown as it grows, replaced by the stored message.
  function showDraft(f) {
    if (typeof f.reply_to !== 'number') return;
    const answered = S.list.some((r) => r.seq != null && r.seq > f.reply_to && r.kind !== 'customer');
    if (f.done || answered || !f.text) {
      if (S.draft && S.draft.replyTo <= f.reply_to) dropDraft();
      return;
    }
    const stick = nearBottom();
    if (!S.draft || S.draft.replyTo !== f.reply_to) {
      dropDraft();
      const rec = { kind: 'bot', name: null, body: '', status: 'sent', seq: null, at: Date.now() };
      const el = buildEl(rec);
      el.className = 'msg bot sent draft';
      el.dataset.testid = 'draft';
      el.setAttribute('aria-busy', 'true');
      S.draft = { replyTo: f.reply_to, rec };
    }
    S.draft.rec.bubble.textContent = String(f.text);
    ui.list.append(S.draft.rec.el);
    showTyping(false);
    renderWelcome();
    if (stick) scrollToBottom();
  }

  function dropDraft() {
    if (!S.draft) return;
    S.draft.rec.el.remove();
    S.draft = null;
  }

  function clearHistory() {
    dropDraft();
    for (const r of S.list) if (r.seq != null) { r.el.remove(); if (r.cid) S.byCid.delete(r.cid); }
    S.list = S.list.filter((r) => r.seq == null);
    renderQuick();
    S.bySeq.clear();
    S.cursor = 0;
    S.conv = null;
    hideCsat();
    showTyping(false);
    renderWelcome();
    renderStatus();
  }

  function setConversation(c) {
    if (!c || typeof c !== 'object') return;
    S.conv = c;
    if (c.state !== 'bot') showTyping(false);
    renderStatus();
    if (c.state === 'resolved') loadCsat(c);
    else if (S.csat) hideCsat();
  }

  // ---------- customer satisfaction ----------
  // Once the conversation is resolved, the inbox's questions (in the customer's language) are
  // asked below the messages, unless the customer already rated it; writing again reopens the
  // conversation and takes them away.
  async function loadCsat(c) {
    if (S.csat && S.csat.conv === c.id) return;
    const mark = { conv: c.id };
    hideCsat();
    S.csat = mark;
    let d;
    try { d = await api('GET', `/api/v1/widget/conversations/${encodeURIComponent(c.id)}/csat?locale=${LANG}`); } catch { if (S.csat === mark) S.csat = null; return; }
    if (S.csat !== mark || !S.conv || S.conv.id !== c.id || S.conv.state !== 'resolved') return;
    if (!d || !d.enabled || !d.resolved || d.rating || !Array.isArray(d.questions)) return;
    buildCsat(d.questions, mark);
  }

  function hideCsat() {
    S.csat = null;
    ui.csat.replaceChildren();
    ui.csat.hidden = true;
  }

  function buildCsat(questions, mark) {
    const stick = nearBottom();
    const answers = {};
    let rating = 0;
    const node = (tag, cls, testid) => {
      const el = document.createElement(tag);
      if (cls) el.className = cls;
      if (testid) el.dataset.testid = testid;
      return el;
    };
    const submit = node('button', 'csat-submit', 'csat-submit');
    submit.type = 'button';
    submit.textContent = T.csat_submit;
    submit.disabled = true;
    let comment = null;
    const parts = [];
    for (const q of questions) {
      if (!q || typeof q.id !== 'string') continue;
      const wrap = node('div', 'csat-q');
      wrap.dataset.question = q.id;
      const label = node('p', 'csat-text');
      label.textContent = String(q.text ?? '');
      wrap.append(label);
      if (q.kind === 'rating' || q.kind === 'scale') {
        const stars = q.kind === 'rating';
        const row = node('div', stars ? 'csat-scale stars' : 'csat-scale');
        row.setAttribute('role', 'radiogroup');
        row.setAttribute('aria-label', label.textContent);
        const buttons = [];
        for (let n = 1; n <= 5; n++) {
          const b = node('button', '', stars ? 'csat-star' : 'csat-point');
          b.type = 'button';
          b.dataset.value = String(n);
          b.textContent = stars ? '★' : String(n);
          b.setAttribute('role', 'radio');
          b.setAttribute('aria-checked', 'false');
          b.setAttribute('aria-label', fmt(T.csat_star, { n }));
          b.addEventListener('click', () => {
            if (stars) { rating = n; submit.disabled = false; } else answers[q.id] = n;
            buttons.forEach((other, i) => {
              other.classList.toggle('on', stars ? i < n : i === n - 1);
              other.setAttribute('aria-checked', String(i === n - 1));
            });
          });
          buttons.push(b);
          row.append(b);
        }
        wrap.append(row);
      } else if (q.kind === 'yes_no') {
        const row = node('div', 'csat-yesno');
        row.setAttribute('role', 'radiogroup');
        row.setAttribute('aria-label', label.textContent);
        const choices = [[true, T.csat_yes, 'csat-yes'], [false, T.csat_no, 'csat-no']].map(([value, text, testid]) => {
          const b = node('button', '', testid);
          b.type = 'button';
          b.textContent = text;
          b.setAttribute('role', 'radio');
          b.setAttribute('aria-checked', 'false');
          b.addEventListener('click', () => {
            answers[q.id] = value;
            choices.forEach((other) => {
              other.classList.toggle('on', other === b);
              other.setAttribute('aria-checked', String(other === b));
            });
          });
          return b;
        });
        row.append(...choices);
        wrap.append(row);
      } else if (q.kind === 'comment') {
        comment = node('textarea', '', 'csat-comment');
        comment.maxLength = 1000;
        comment.placeholder = T.csat_placeholder;
        comment.setAttribute('aria-label', label.textContent);
        wrap.append(comment);
      } else {
        continue;
      }
      parts.push(wrap);
    }
    submit.addEventListener('click', async () => {
      if (!rating || S.csat !== mark) return;
      submit.disabled = true;
      const text = comment ? comment.value.trim() : '';
      const body = { rating, answers };
      if (text) body.comment = text;
      try {
        await api('POST', `/api/v1/widget/conversations/${encodeURIComponent(mark.conv)}/rating`, body);
        if (S.csat !== mark) return;
        const thanks = node('p', 'csat-thanks', 'csat-thanks');
        thanks.setAttribute('role', 'status');
        thanks.textContent = T.csat_thanks;
        ui.csat.replaceChildren(thanks);
      } catch (e) {
        submit.disabled = false;
        if (e && e.code === 'conversation_not_resolved') { hideCsat(); sync().catch(() => {}); return; }
        notify(T.csat_error);
      }
    });
    ui.csat.replaceChildren(...parts, submit);
    ui.csat.hidden = false;
    if (stick) scrollToBottom();
  }

  // ---------- session, sync, realtime ----------
  function boot() {
    S.started = true;
    renderStatus();
    ensureSession().catch(() => { renderStatus(); scheduleReconnect(false); });
  }

  function ensureSession() {
    S.started = true;
    if (!S.readyP) S.readyP = startSession().catch((e) => { S.readyP = null; throw e; });
    return S.readyP;
  }

  async function startSession() {
    const prev = store.get('token');
    S.token = null;
    const request = { inbox_key: INBOX, token: prev || undefined, locale: LANG };
    let d;
    try {
      d = await api('POST', '/api/v1/widget/session', IDENTITY ? { ...request, ...IDENTITY } : request);
    } catch (e) {
      if (!IDENTITY || e.code !== 'identity_mismatch') throw e;
      IDENTITY = null;
      console.warn('[tandem] data-user-hash does not match data-user-id (compute it on your server with this inbox\'s identity secret); continuing as an anonymous visitor');
      d = await api('POST', '/api/v1/widget/session', request);
    }
    if (!d || !d.token) throw new Error('invalid session response');
    if (prev && d.token !== prev) clearHistory(); // the old token was not accepted: a new customer
    S.token = d.token;
    store.set('token', d.token);
    S.customer = d.customer || null;
    S.inbox = d.inbox || null;
    applyInbox();
    try { await sync(); } catch { /* the WebSocket backlog catches up */ }
    connect();
    return d;
  }

  function resetSession() {
    if (S.resetP) return S.resetP;
    store.del('token');
    S.token = null;
    S.readyP = null;
    closeSocket();
    clearHistory();
    S.resetP = ensureSession().finally(() => { S.resetP = null; });
    return S.resetP;
  }

  // GET messages after the cursor, page by page; concurrent calls coalesce into one more round.
  function sync() {
    if (S.syncP) { S.syncAgain = true; return S.syncP; }
    S.syncP = (async () => {
      do {
        S.syncAgain = false;
        for (;;) {
          const from = S.cursor;
          const d = await api('GET', `/api/v1/widget/messages?after_seq=${encodeURIComponent(from)}`);
          if (d && d.conversation) setConversation(d.conversation);
          const msgs = (d && Array.isArray(d.messages)) ? d.messages : [];
          ingest(msgs, 'sync');
          if (msgs.length < PAGE || S.cursor <= from) break;
        }
      } while (S.syncAgain);
    })().finally(() => { S.syncP = null; });
    return S.syncP;
  }

  function connect() {
    clearTimeout(S.retryTimer);
    if (!S.token || S.ws) return;
    const u = new URL('/api/v1/widget/ws', BASE);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.searchParams.set('token', S.token);
    u.searchParams.set('after_seq', String(S.cursor));
    let ws;
    try { ws = new WebSocket(u.toString()); } catch { scheduleReconnect(true); return; }
    S.ws = ws;
    let opened = false;
    const openTimer = setTimeout(() => { if (!opened) ws.close(); }, 10000);
    ws.onopen = () => {
      opened = true;
      clearTimeout(openTimer);
      S.attempt = 0;
      S.online = true;
      S.everOnline = true;
      renderStatus();
      clearInterval(S.pingTimer);
      S.pingTimer = setInterval(() => { try { ws.send('{"type":"ping"}'); } catch { /* closing */ } }, PING_MS);
    };
    ws.onmessage = (e) => {
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (!f) return;
      if (f.type === 'message' && f.message) ingest([f.message], 'ws');
      else if (f.type === 'conversation' && f.conversation) setConversation(f.conversation);
      else if (f.type === 'draft') showDraft(f);
    };
    ws.onerror = () => { /* onclose follows */ };
    ws.onclose = () => {
      clearTimeout(openTimer);
      if (S.ws !== ws) return;
      S.ws = null;
      S.online = false;
      clearInterval(S.pingTimer);
      renderStatus();
      // A socket that never opened may mean a bad token: validate it with a GET before retrying.
      scheduleReconnect(!opened);
    };
  }

  function closeSocket() {
    const ws = S.ws;
    S.ws = null;
    S.online = false;
    clearInterval(S.pingTimer);
    if (ws) { ws.onclose = null; try { ws.close(); } catch { /* ignore */ } }
  }

  // Exponential backoff 1s, 2s, 4s … 30s, with ±25% jitter.
  function scheduleReconnect(validate) {
    clearTimeout(S.retryTimer);
    const base = Math.min(30000, 1000 * 2 ** Math.min(S.attempt, 5));
    S.attempt++;
    const delay = Math.min(30000, Math.round(base * (0.75 + Math.random() * 0.5)));
    S.retryTimer = setTimeout(() => reconnect(validate), delay);
  }

  async function reconnect(validate) {
    try {
      if (!S.token) { await ensureSession(); return; }
      if (validate) await sync();
      connect();
    } catch (e) {
      if (e && e.status === 401) resetSession().catch(() => scheduleReconnect(false));
      else scheduleReconnect(validate);
    }
  }

  // Page visible again / back online: catch up over HTTP and reconnect right away.
  function resume() {
    if (!S.token) return;
    sync().catch((e) => { if (e && e.status === 401) resetSession().catch(() => scheduleReconnect(false)); });
    if (!S.ws) { S.attempt = 0; connect(); }
  }

  // ---------- sending ----------
  function onSend() {
    const body = ui.input.value.trim();
    if (!body || !sendText(body)) return;
    ui.input.value = '';
    autosize();
  }

  // The one send path, for the composer and the quick replies alike. False when it was refused.
  function sendText(body) {
    const n = charCount(body);
    if (n > MAX_CHARS) { notify(fmt(T.too_long, { max: MAX_CHARS, n }), 0, 'tooLong'); return false; }
    notify('');
    const rec = {
      id: null, seq: null, cid: newId(), kind: 'customer', name: (S.customer && S.customer.name) || null,
      body, at: Date.now(), status: 'pending', el: null,
    };
    S.byCid.set(rec.cid, rec);
    place(rec);
    renderWelcome();
    scrollToBottom();
    enqueue(rec);
    return true;
  }

  // Sends go out one at a time so the server sees them in the order they were written.
  function enqueue(rec) { S.chain = S.chain.then(() => deliver(rec)).catch(() => { /* never block later sends */ }); }

  async function deliver(rec) {
    for (let tries = 0; ; tries++) {
      if (rec.seq != null) return;
      try {
        await ensureSession();
        const d = await api('POST', '/api/v1/widget/messages', { client_msg_id: rec.cid, body: rec.body });
        if (d && d.conversation) setConversation(d.conversation);
        if (d && d.message) {
          const m = { ...d.message, client_msg_id: d.message.client_msg_id || rec.cid };
          ingest([m], 'ack');
          const botAnswered = S.list.some((r) => r.seq != null && r.seq > m.seq && r.kind !== 'customer');
          if (d.conversation && d.conversation.state === 'bot' && !botAnswered) showTyping(true);
        }
        if (ui.notice.dataset.kind === 'rate') notify('');
        return;
      } catch (e) {
        if (rec.seq != null) return; // it arrived over the socket meanwhile
        const status = e && e.status;
        if (status === 429 && tries < 4) {
          notify(T.rate_limited, 0, 'rate');
          await sleep((e.retryAfter || 2) * 1000);
          continue;
        }
        if (status === 401 && tries < 1) {
          try { await resetSession(); } catch { /* fall through to failed */ }
          continue;
        }
        rec.status = 'failed';
        paint(rec);
        if (status === 413 || (e && e.code === 'payload_too_large')) notify(fmt(T.too_long, { max: MAX_CHARS, n: charCount(rec.body) }));
        else if (status === 422) notify(T.invalid);
        else if (status === 429) notify(T.rate_limited);
        else if (status) notify(T.error);
        return;
      }
    }
  }

  function retry(rec) {
    if (rec.status !== 'failed') return;
    rec.status = 'pending';
    paint(rec);
    notify('');
    enqueue(rec); // same client_msg_id: the server stores it once
  }

  async function onHandoff() {
    if (ui.handoff.disabled) return;
    ui.handoff.disabled = true;
    try {
      await ensureSession();
      const d = await api('POST', '/api/v1/widget/handoff');
      if (d && d.conversation) setConversation(d.conversation);
    } catch (e) {
      if (e && (e.status === 409 || e.code === 'illegal_transition')) sync().catch(() => {});
      else notify(T.error);
    } finally {
      renderStatus();
    }
  }

  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
})();
