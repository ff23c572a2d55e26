// novadev web UI: the page's behaviour.
//
// Reads the daemon's own API, the same routes the CLI uses (src/daemon/api.rs): `GET /v1/info`,
// `/v1/status` and `/v1/stats` (the dev loop's history) once per connection, the SSE stream
// `/v1/events` for every status change and every turn of the dev loop, the SSE stream `/v1/logs`
// for the log view, and `POST /v1/services/{service}/{action}` for the buttons. It never talks to
// Docker.
//
// The token: `novadev ui` prints the page's address with the token in the fragment
// (`/#token=…`), which browsers never send to a server. This script moves it into
// sessionStorage (per origin, so no other server on 127.0.0.1 can read it; gone with the tab),
// drops it from the address bar, and sends it as an `Authorization` header on every request.
// Nothing puts it in a cookie: cookies ignore ports, so every server on 127.0.0.1 would get it.
// The event streams are read with fetch() for the same reason: EventSource cannot send headers.
//
// Everything a container prints is shown with textContent (never as HTML).

'use strict';

/** Lines kept in memory for the log view; older ones are dropped. */
const LOG_LIMIT = 5000;
/** Lines of history asked for when a log stream (re)opens. */
const LOG_TAIL = 500;
/** Reconnect delays grow from the first to the last (milliseconds). */
const RETRY_FIRST = 1000;
const RETRY_MAX = 15000;
/** Phases in which a container runs, so an uptime means something. */
const RUNNING = new Set(['starting', 'ready', 'unhealthy']);
const GOOD = new Set(['ready', 'completed']);
const BAD = new Set(['failed', 'exited', 'unhealthy']);
/** Dev-loop records kept, all services together: as many as the daemon keeps. */
const LOOP_LIMIT = 1000;
/** Turns drawn per service in the dev-loop chart. */
const LOOP_BARS = 20;

const $ = (id) => document.getElementById(id);

const state = {
  info: null,
  /** service name -> ServiceStatus, as the daemon last said */
  services: new Map(),
  /** the table's grouping as last drawn, to know when to rebuild it */
  layout: '',
  /** service names, sorted (for the log view's colours) */
  order: [],
  /** service whose log is shown; null = all */
  selected: null,
  /** "service:action" requests in flight */
  pending: new Set(),
  /** log lines received for the current view ({service, stream, time, text}) */
  lines: [],
  /** lines waiting for the next paint */
  queued: [],
  flushTimer: null,
  follow: true,
  /** lines that arrived while paused */
  unseen: 0,
  /** the compiled search (a global, case-insensitive RegExp) or null */
  search: null,
  /** why the search text is not used (an invalid regex), or null */
  searchError: null,
  /** a line arrived out of time order: the next paint draws the view again */
  reorder: false,
  /** false until the first snapshot of a connection is applied: no announcements for it */
  settled: false,
  /** the dev loop's turns (LoopRecord), oldest first */
  loops: [],
  /** turns received on this connection before its history arrived (merged into it) */
  loopsLive: [],
  loopsLoaded: false,
  loopTimer: null,
  /** the dev-loop section's empty-state text, as the page has it */
  loopEmptyText: '',
};

// ---------------------------------------------------------------------------------------------
// Small helpers

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('data-') || key.startsWith('aria-') || key === 'role' || key === 'title' || key === 'type' || key === 'scope' || key === 'colspan') {
      node.setAttribute(key, value);
    } else node[key] = value;
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function humanDuration(ms) {
  if (ms < 0 || !Number.isFinite(ms)) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** A turn's duration as the CLI and the TUI write it: `850ms`, `2.3s`, `4m05s`. */
function loopDuration(ms) {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60000)}m${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}s`;
}

function clockTime(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '' : d.toTimeString().slice(0, 8);
}

/** A colour slot (0-7) per service for the log view's tags: by place in the (sorted) service
 *  list, so the first eight never share one; a name not listed (yet) gets one from its hash. */
function colourSlot(name) {
  const index = state.order.indexOf(name);
  if (index >= 0) return index % 8;
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return h % 8;
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === 'string') return body.error;
  } catch (_) {
    // Not JSON: fall through to the status line.
  }
  return `${response.status} ${response.statusText}`.trim();
}

const UNAUTHORIZED =
  'This page’s token is not accepted (the daemon restarted?). Open the address `novadev ui` prints.';

// ---------------------------------------------------------------------------------------------
// The token and authenticated requests

const TOKEN_KEY = 'novadev-token';

/** The token from the address's fragment (moved to sessionStorage), else the stored one. */
function takeToken() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const fresh = fragment.get('token');
  if (fresh) {
    sessionStorage.setItem(TOKEN_KEY, fresh);
    history.replaceState(null, '', window.location.pathname);
  }
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

const TOKEN = takeToken();

/** fetch() with the token and the headers every write needs (JSON, same origin). */
function api(path, options = {}) {
  const headers = Object.assign({ authorization: `Bearer ${TOKEN}` }, options.headers || {});
  if (options.method === 'POST') headers['content-type'] = 'application/json';
  return fetch(path, Object.assign({}, options, { headers, credentials: 'omit', cache: 'no-store' }));
}

/** A server-sent event stream read with fetch (so it can carry the token header). Calls
 *  `handlers.open()` once the response is there, `handlers[eventName](data)` per message and
 *  `handlers.error()` once when it ends or fails, unless `close()` was called first. */
function openStream(path, handlers) {
  const controller = new AbortController();
  let closed = false;
  const stream = { close() { closed = true; controller.abort(); } };
  (async () => {
    try {
      const response = await api(path, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
      if (!response.ok || !response.body) {
        const error = new Error(response.status === 401 ? UNAUTHORIZED : await errorText(response));
        error.status = response.status;
        throw error;
      }
      if (handlers.open) handlers.open();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      let event = '';
      let data = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let newline;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, '');
          buffer = buffer.slice(newline + 1);
          if (line === '') {
            if (data.length && handlers[event || 'message']) handlers[event || 'message'](data.join('\n'));
            event = '';
            data = [];
          } else if (line.startsWith('data:')) {
            data.push(line.slice(5).replace(/^ /, ''));
          } else if (line.startsWith('event:')) {
            event = line.slice(6).trim();
          }
        }
      }
      if (!closed && handlers.error) handlers.error(null);
    } catch (e) {
      if (!closed && handlers.error) handlers.error(e);
    }
  })();
  return stream;
}

async function getJson(path) {
  const response = await api(path, { headers: { accept: 'application/json' } });
  if (response.status === 401) throw new Error(UNAUTHORIZED);
  if (!response.ok) throw new Error(await errorText(response));
  return response.json();
}

// ---------------------------------------------------------------------------------------------
// Notices and announcements

function showNotice(text, kind) {
  const notice = $('notice');
  notice.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  notice.dataset.kind = kind;
  $('notice-text').textContent = text;
  notice.hidden = false;
}

function hideNotice() {
  $('notice').hidden = true;
}

/** Say a status change to screen readers (the last few, newest last). */
function announce(text) {
  const region = $('announce');
  region.append(el('p', { text }));
  while (region.childElementCount > 5) region.firstElementChild.remove();
}

function setConnection(kind, text) {
  const node = $('connection');
  node.dataset.state = kind;
  node.textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Header

function renderInfo() {
  const info = state.info;
  if (!info) return;
  $('project').textContent = info.project;
  document.title = `${info.project} · novadev`;
  const facts = [`engine ${info.engine_version}`];
  if (info.stack_files.length) facts.push(info.stack_files.map((f) => f.split('/').pop()).join(', '));
  facts.push(`daemon pid ${info.pid} since ${clockTime(info.started_ms)}`);
  $('facts').textContent = facts.join(' · ');
}

// ---------------------------------------------------------------------------------------------
// The services table

/** Tier groups in display order: [{tier, services: [name...]}]. */
function groups() {
  const tiers = (state.info && state.info.tiers) || [];
  const byTier = new Map();
  for (const status of state.services.values()) {
    const tier = status.tier || '';
    if (!byTier.has(tier)) byTier.set(tier, []);
    byTier.get(tier).push(status.service);
  }
  const order = [...tiers.filter((t) => byTier.has(t))];
  for (const t of [...byTier.keys()].sort()) if (t && !order.includes(t)) order.push(t);
  if (byTier.has('')) order.push('');
  return order.map((tier) => ({ tier, services: byTier.get(tier).sort() }));
}

function renderTable() {
  const table = $('services');
  const grouped = groups();
  const layout = JSON.stringify(grouped);
  $('empty').hidden = state.services.size > 0;
  if (layout !== state.layout) {
    state.layout = layout;
    const order = [...state.services.keys()].sort();
    // Lines drawn before a service was known took a colour from its hash: draw them again.
    if (order.join('\n') !== state.order.join('\n') && state.lines.length) scheduleLogRedraw();
    state.order = order;
    for (const body of table.querySelectorAll('tbody')) body.remove();
    const named = grouped.some((g) => g.tier !== '');
    for (const group of grouped) {
      const body = el('tbody', { 'data-tier': group.tier });
      if (named) {
        body.append(
          el('tr', { class: 'tier' },
            el('th', { scope: 'rowgroup', colspan: '7', text: group.tier || 'other' })),
        );
      }
      for (const name of group.services) body.append(makeRow(name));
      table.append(body);
    }
  }
  for (const name of state.services.keys()) updateRow(name);
  renderSummary();
}

function makeRow(name) {
  const pick = el('button', { type: 'button', class: 'service-name', text: name, 'aria-pressed': 'false', title: `Show the log of ${name}` });
  pick.addEventListener('click', () => select(state.selected === name ? null : name));
  const restart = el('button', { type: 'button', class: 'restart', text: 'Restart', 'aria-label': `Restart ${name}` });
  restart.addEventListener('click', () => act(name, 'restart'));
  const rebuild = el('button', { type: 'button', class: 'rebuild', text: 'Rebuild', 'aria-label': `Rebuild ${name}` });
  rebuild.addEventListener('click', () => act(name, 'rebuild'));
  return el('tr', { 'data-service': name },
    el('th', { scope: 'row', class: 'name' }, pick),
    el('td', { class: 'state' }, el('span', { class: 'badge' })),
    el('td', { class: 'ports' }),
    el('td', { class: 'restarts num' }),
    el('td', { class: 'uptime num' }),
    el('td', { class: 'detail' }),
    el('td', { class: 'actions' }, restart, ' ', rebuild),
  );
}

function rowOf(name) {
  return $('services').querySelector(`tr[data-service="${CSS.escape(name)}"]`);
}

function uptimeText(status) {
  if (!RUNNING.has(status.phase) || !status.started_ms) return '—';
  return humanDuration(Date.now() - status.started_ms);
}

function updateRow(name) {
  const status = state.services.get(name);
  const row = rowOf(name);
  if (!status || !row) return;
  row.dataset.phase = status.phase;
  row.dataset.startedMs = String(status.started_ms || '');
  row.classList.toggle('selected', state.selected === name);
  row.querySelector('.service-name').setAttribute('aria-pressed', String(state.selected === name));

  const badge = row.querySelector('.badge');
  badge.className = `badge phase-${status.phase}`;
  badge.textContent = status.phase;
  if (status.exit_code != null && !GOOD.has(status.phase)) badge.textContent += ` (${status.exit_code})`;

  const ports = row.querySelector('.ports');
  ports.replaceChildren(
    ...status.ports.map((p) => el('code', { text: `${p.host_ip}:${p.host_port}→${p.container_port}${p.protocol === 'tcp' ? '' : '/' + p.protocol}` })),
  );
  if (!status.ports.length) ports.textContent = '—';

  row.querySelector('.restarts').textContent = String(status.restarts);
  row.querySelector('.uptime').textContent = uptimeText(status);

  const detail = status.detail || '';
  const detailCell = row.querySelector('.detail');
  detailCell.textContent = detail.split('\n')[0];
  detailCell.title = detail;

  for (const action of ['restart', 'rebuild']) {
    const button = row.querySelector(`.${action}`);
    const busy = state.pending.has(`${name}:${action}`);
    button.disabled = state.pending.has(`${name}:restart`) || state.pending.has(`${name}:rebuild`);
    button.setAttribute('aria-busy', String(busy));
    button.textContent = busy
      ? (action === 'restart' ? 'Restarting…' : 'Rebuilding…')
      : (action === 'restart' ? 'Restart' : 'Rebuild');
  }
}

function renderSummary() {
  const all = [...state.services.values()];
  const good = all.filter((s) => GOOD.has(s.phase)).length;
  const bad = all.filter((s) => BAD.has(s.phase)).length;
  const parts = [`${all.length} service${all.length === 1 ? '' : 's'}`, `${good} up`];
  if (bad) parts.push(`${bad} failing`);
  const busy = all.length - good - bad;
  if (busy) parts.push(`${busy} other`);
  const summary = $('summary');
  summary.textContent = parts.join(' · ');
  summary.dataset.health = bad ? 'bad' : busy ? 'busy' : 'good';
}

function tickUptimes() {
  for (const [name, status] of state.services) {
    const row = rowOf(name);
    if (row) row.querySelector('.uptime').textContent = uptimeText(status);
  }
}

/** Take in one service's new status. */
function applyStatus(status) {
  const before = state.services.get(status.service);
  state.services.set(status.service, status);
  if (state.settled && before && before.phase !== status.phase) {
    announce(`${status.service} is ${status.phase}`);
  }
  // A new container (restart, recreate) starts a new log stream; follow it.
  const viewed = state.selected === null || state.selected === status.service;
  if (before && viewed && (before.started_ms !== status.started_ms || before.container_id !== status.container_id)) {
    scheduleLogReopen();
  }
}

// ---------------------------------------------------------------------------------------------
// Live status over SSE

let events = null;
let eventsDelay = RETRY_FIRST;
let redrawTimer = null;

function scheduleRedraw() {
  if (redrawTimer) return;
  redrawTimer = setTimeout(() => {
    redrawTimer = null;
    renderTable();
  }, 30);
}

function connectEvents() {
  setConnection('connecting', 'connecting…');
  state.settled = false;
  state.loopsLive = [];
  state.loopsLoaded = false;
  const source = openStream('/v1/events', {
    open: async () => {
      eventsDelay = RETRY_FIRST;
      setConnection('live', 'live');
      try {
        const status = await getJson('/v1/status');
        state.info = status.info;
        renderInfo();
        // The stream's snapshot carries every service on the board; this drops those that left.
        const present = new Set(status.services.map((s) => s.service));
        for (const name of [...state.services.keys()]) if (!present.has(name)) state.services.delete(name);
        for (const s of status.services) if (!state.services.has(s.service)) state.services.set(s.service, s);
        state.settled = true;
        renderTable();
      } catch (e) {
        showNotice(e.message, 'error');
      }
      // Fetched after the stream opened, so that no turn falls between the two.
      try {
        const stats = await getJson('/v1/stats');
        setLoopHistory(stats.records || []);
      } catch (e) {
        $('devloop-empty').textContent = `The dev loop's history could not be read: ${e.message}`;
        $('devloop-empty').hidden = false;
      }
    },
    event: (data) => {
      let event;
      try {
        event = JSON.parse(data);
      } catch (_) {
        return;
      }
      if (event.kind === 'service' && event.status) {
        applyStatus(event.status);
        scheduleRedraw();
      } else if (event.kind === 'loop' && event.record) {
        const r = event.record;
        addLoop(r);
        if (state.settled) {
          const done = r.kind === 'rebuild' ? 'rebuilt' : 'restarted';
          announce(r.outcome === 'ready'
            ? `${r.service} ${done} in ${loopDuration(r.total_ms)}`
            : `${r.service}: ${r.kind} ${OUTCOME_WORDS[r.outcome] || r.outcome}`);
        }
      } else if (event.kind === 'message') {
        const node = $('message');
        node.textContent = `${clockTime(event.time_ms)} ${event.text}`;
        if (state.settled) announce(event.text);
      }
    },
    error: (e) => {
      if (events !== source) return;
      events = null;
      const delay = eventsDelay;
      eventsDelay = Math.min(eventsDelay * 2, RETRY_MAX);
      if (e && e.status === 401) {
        setConnection('refused', 'token refused');
        showNotice(UNAUTHORIZED, 'error');
      } else {
        setConnection('retrying', `disconnected; retrying in ${Math.round(delay / 1000)}s`);
      }
      setTimeout(connectEvents, delay);
    },
  });
  events = source;
}

// ---------------------------------------------------------------------------------------------
// The dev loop: per service, the median turn (saved file or request → ready) of the turns that
// ended ready, where its time goes, and a bar per turn for the last 20, as `novadev stats` and
// the TUI's panel show it.

function loopKey(r) {
  return `${r.service}\n${r.kind}\n${r.began_ms}\n${r.total_ms}`;
}

/** Keep `records` (oldest first) after the kept ones, each turn once, the newest LOOP_LIMIT. */
function keepLoops(kept, records) {
  const seen = new Set(kept.map(loopKey));
  const out = kept.slice();
  for (const r of records) {
    const key = loopKey(r);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out.slice(-LOOP_LIMIT);
}

/** The history, once per connection: it replaces what was kept (turns may have ended while the
 *  stream was down), plus the turns this connection already delivered. */
function setLoopHistory(records) {
  $('devloop-empty').textContent = state.loopEmptyText;
  state.loops = keepLoops(records, state.loopsLive);
  state.loopsLive = [];
  state.loopsLoaded = true;
  renderLoops();
}

function addLoop(record) {
  if (!state.loopsLoaded) state.loopsLive.push(record);
  state.loops = keepLoops(state.loops, [record]);
  if (!state.loopTimer) {
    state.loopTimer = setTimeout(() => {
      state.loopTimer = null;
      renderLoops();
    }, 50);
  }
}

function median(values) {
  if (!values.length) return null;
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : Math.floor((sorted[mid - 1] + sorted[mid]) / 2);
}

/** The services with turns: the table's order, then any others (no longer listed) by name. */
function loopServices() {
  const have = new Set(state.loops.map((r) => r.service));
  const listed = groups().flatMap((g) => g.services).filter((name) => have.has(name));
  const others = [...have].filter((name) => !listed.includes(name)).sort();
  return listed.concat(others);
}

function renderLoops() {
  const services = loopServices();
  $('devloop-empty').hidden = services.length > 0;
  $('devloop-charts').replaceChildren(...services.map(loopFigure));
}

const OUTCOME_WORDS = { ready: 'ready', build_failed: 'build failed', failed: 'failed' };

function loopFigure(name) {
  const mine = state.loops.filter((r) => r.service === name);
  const ok = mine.filter((r) => r.outcome === 'ready');
  const part = (field) => median(ok.map((r) => r[field]).filter((v) => v != null));
  const total = part('total_ms');
  const last = mine[mine.length - 1];
  const lastText = last.outcome === 'ready'
    ? `last ${loopDuration(last.total_ms)}`
    : `last ${loopDuration(last.total_ms)}, ${OUTCOME_WORDS[last.outcome] || last.outcome}`;
  const head = el('figcaption', { class: 'loop-head' },
    el('span', { class: 'loop-name', text: name, title: name }),
    el('span', { class: 'loop-median', text: loopDuration(total), title: 'median of the turns that ended ready' }),
    el('span', { class: 'loop-last', text: lastText, 'data-outcome': last.outcome === 'ready' ? 'ready' : 'failed' }),
  );
  const parts = [
    `${mine.length} turn${mine.length === 1 ? '' : 's'}`,
    `wait ${loopDuration(part('wait_ms'))}`,
    `build ${loopDuration(part('build_ms'))}`,
    `package ${loopDuration(part('package_ms'))}`,
    `replace ${loopDuration(part('replace_ms'))}`,
    `to ready ${loopDuration(part('ready_ms'))}`,
  ];
  return el('figure', { class: 'loop', 'data-service': name },
    head,
    loopChart(name, mine.slice(-LOOP_BARS), total),
    el('p', { class: 'loop-parts', text: parts.join(' · '), title: 'medians of the turns that ended ready' }),
  );
}

/** An empty chart from the page's template (an SVG element, as the parser made it). */
function chartRoot() {
  return $('loop-chart').content.firstElementChild.cloneNode(false);
}

/** An SVG element in `parent`'s namespace, with its attributes. */
function svg(parent, tag, attributes) {
  const node = document.createElementNS(parent.namespaceURI, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** The turns as bars from zero (oldest left, one slot per turn), a failed turn in the failure
 *  colour, and the median as a dashed line; each bar says its turn in a tooltip. */
function loopChart(name, turns, medianMs) {
  const width = 200;
  const height = 48;
  const slot = width / LOOP_BARS;
  const top = Math.max(1, medianMs || 0, ...turns.map((r) => r.total_ms));
  const y = (ms) => height - 1 - (ms / top) * (height - 4);
  const chart = chartRoot();
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  chart.setAttribute('aria-label', `${name}: the last ${turns.length} turns, ${turns.map((r) => loopDuration(r.total_ms)).join(', ')}`);
  chart.append(svg(chart, 'line', { class: 'axis', x1: 0, x2: width, y1: height - 0.5, y2: height - 0.5, 'vector-effect': 'non-scaling-stroke' }));
  turns.forEach((r, i) => {
    const barTop = Math.min(y(r.total_ms), height - 2);
    const bar = svg(chart, 'rect', {
      class: r.outcome === 'ready' ? 'bar-ready' : 'bar-failed',
      x: i * slot + 1,
      y: barTop,
      width: slot - 2,
      height: height - 1 - barTop,
      'data-total-ms': r.total_ms,
      'data-outcome': r.outcome,
    });
    const tip = svg(chart, 'title', {});
    const breakdown = [['build', r.build_ms], ['package', r.package_ms], ['replace', r.replace_ms], ['to ready', r.ready_ms]]
      .filter(([, v]) => v != null)
      .map(([k, v]) => `${k} ${loopDuration(v)}`);
    tip.textContent = `${clockTime(r.began_ms)} ${r.kind} (${r.trigger === 'file_change' ? 'saved file' : 'request'}): `
      + `${loopDuration(r.total_ms)}, ${OUTCOME_WORDS[r.outcome] || r.outcome}`
      + (breakdown.length ? ` — wait ${loopDuration(r.wait_ms)}, ${breakdown.join(', ')}` : '')
      + (r.error ? `\n${r.error}` : '');
    bar.append(tip);
    chart.append(bar);
  });
  if (medianMs != null) {
    chart.append(svg(chart, 'line', { class: 'median', x1: 0, x2: width, y1: y(medianMs), y2: y(medianMs), 'vector-effect': 'non-scaling-stroke' }));
  }
  return chart;
}

// ---------------------------------------------------------------------------------------------
// Logs

let logs = null;
let logsDelay = RETRY_FIRST;
let logsRetry = null;
let reopenTimer = null;

function select(name) {
  state.selected = name;
  $('logs-of').textContent = name === null ? 'all services' : name;
  $('show-all').setAttribute('aria-pressed', String(name === null));
  $('log').classList.toggle('single', name !== null);
  for (const n of state.services.keys()) updateRow(n);
  logsDelay = RETRY_FIRST;
  openLogs();
}

function closeLogs() {
  if (logs) logs.close();
  logs = null;
  clearTimeout(logsRetry);
  logsRetry = null;
}

function scheduleLogReopen() {
  clearTimeout(reopenTimer);
  reopenTimer = setTimeout(() => {
    reopenTimer = null;
    openLogs();
  }, 400);
}

function setLogState(text) {
  $('log-state').textContent = text;
}

function openLogs() {
  closeLogs();
  // A (re)opened stream starts with its tail of history again: start from an empty view.
  state.lines = [];
  state.queued = [];
  state.unseen = 0;
  $('log-lines').replaceChildren();
  updateSearchStatus();
  const params = new URLSearchParams({ follow: 'true', tail: String(LOG_TAIL) });
  if (state.selected !== null) params.set('services', state.selected);
  setLogState('connecting to the log…');
  const source = openStream(`/v1/logs?${params}`, {
    open: () => {
      logsDelay = RETRY_FIRST;
      setLogState(state.follow ? '' : pausedText());
    },
    log: (data) => {
      let line;
      try {
        line = JSON.parse(data);
      } catch (_) {
        return;
      }
      addLine(line);
    },
    error: () => {
      if (logs !== source) return;
      logs = null;
      const delay = logsDelay;
      logsDelay = Math.min(logsDelay * 2, RETRY_MAX);
      setLogState(`log stream ended (container stopped or daemon away); reopening in ${Math.round(delay / 1000)}s`);
      logsRetry = setTimeout(openLogs, delay);
    },
  });
  logs = source;
}

/** Milliseconds of a line's Docker timestamp (RFC 3339), or null when it has none. */
function lineMs(line) {
  const ms = line.time ? Date.parse(line.time) : NaN;
  return Number.isNaN(ms) ? null : ms;
}

function addLine(line) {
  // Streams of several containers arrive interleaved (each one's history comes as a burst):
  // keep the view in time order, placing a late line after every line not newer than it.
  line.ms = lineMs(line);
  const lines = state.lines;
  const last = lines.length ? lines[lines.length - 1] : null;
  if (last && line.ms !== null && last.ms !== null && line.ms < last.ms) {
    let lo = 0;
    let hi = lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (lines[mid].ms !== null && lines[mid].ms > line.ms) hi = mid;
      else lo = mid + 1;
    }
    lines.splice(lo, 0, line);
    state.reorder = true;
  } else {
    lines.push(line);
  }
  if (lines.length > LOG_LIMIT) lines.splice(0, lines.length - LOG_LIMIT);
  if (!state.follow) {
    state.unseen += 1;
    setLogState(pausedText());
    return;
  }
  state.queued.push(line);
  if (!state.flushTimer) state.flushTimer = setTimeout(flushLines, 50);
}

function flushLines() {
  state.flushTimer = null;
  if (state.reorder) {
    state.reorder = false;
    renderLog();
    return;
  }
  const batch = state.queued;
  state.queued = [];
  const fragment = document.createDocumentFragment();
  for (const line of batch) if (matches(line)) fragment.append(lineNode(line));
  const box = $('log-lines');
  box.append(fragment);
  while (box.childElementCount > LOG_LIMIT) box.firstElementChild.remove();
  updateSearchStatus();
  if (state.follow) scrollToEnd();
}

function scheduleLogRedraw() {
  state.reorder = true;
  if (state.follow && !state.flushTimer) state.flushTimer = setTimeout(flushLines, 50);
}

function scrollToEnd() {
  const log = $('log');
  log.scrollTop = log.scrollHeight;
}

/** Draw every kept line again (after a search change or on resume). */
function renderLog() {
  clearTimeout(state.flushTimer);
  state.flushTimer = null;
  state.queued = [];
  state.reorder = false;
  const fragment = document.createDocumentFragment();
  for (const line of state.lines) if (matches(line)) fragment.append(lineNode(line));
  $('log-lines').replaceChildren(fragment);
  updateSearchStatus();
  if (state.follow) scrollToEnd();
}

function matches(line) {
  if (!state.search) return true;
  state.search.lastIndex = 0;
  return state.search.test(line.text);
}

function lineNode(line) {
  const node = el('div', { class: `line ${line.stream}` });
  const when = line.time ? new Date(line.time) : null;
  node.append(el('span', { class: 'time', text: when && !Number.isNaN(when.getTime()) ? clockTime(when.getTime()) : '', title: line.time }));
  node.append(el('span', { class: `svc c${colourSlot(line.service)}`, text: line.service }));
  node.append(el('span', { class: 'text' }, ...highlighted(line.text)));
  return node;
}

/** The text as nodes, with every search match in a <mark>. */
function highlighted(text) {
  const re = state.search;
  if (!re) return [text];
  const out = [];
  let last = 0;
  re.lastIndex = 0;
  let match;
  while ((match = re.exec(text)) !== null) {
    if (match[0] === '') {
      re.lastIndex += 1;
      continue;
    }
    if (match.index > last) out.push(text.slice(last, match.index));
    out.push(el('mark', { text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function updateSearch() {
  const input = $('search');
  const raw = input.value;
  const slashed = raw.length > 2 && raw.startsWith('/') && raw.endsWith('/');
  const asRegex = $('regex').checked || slashed;
  const pattern = slashed ? raw.slice(1, -1) : raw;
  input.removeAttribute('aria-invalid');
  state.searchError = null;
  if (!pattern) {
    state.search = null;
  } else if (asRegex) {
    try {
      state.search = new RegExp(pattern, 'gi');
    } catch (e) {
      state.search = null;
      state.searchError = `not a valid regex: ${e.message}`;
      input.setAttribute('aria-invalid', 'true');
    }
  } else {
    state.search = new RegExp(escapeRegExp(pattern), 'gi');
  }
  renderLog();
}

function updateSearchStatus() {
  const status = $('search-status');
  if (state.searchError) {
    status.textContent = state.searchError;
  } else if (state.search) {
    const shown = $('log-lines').childElementCount;
    status.textContent = `${shown} of ${state.lines.length} lines match`;
  } else {
    status.textContent = '';
  }
}

function pausedText() {
  return `paused: ${state.unseen} new line${state.unseen === 1 ? '' : 's'} not shown`;
}

function setFollow(on) {
  state.follow = on;
  const button = $('follow');
  button.setAttribute('aria-pressed', String(on));
  button.textContent = on ? 'Following' : 'Paused';
  if (on) {
    state.unseen = 0;
    setLogState('');
    renderLog();
  } else {
    setLogState(pausedText());
  }
}

// ---------------------------------------------------------------------------------------------
// Actions

async function act(name, action) {
  const key = `${name}:${action}`;
  if (state.pending.has(key)) return;
  state.pending.add(key);
  updateRow(name);
  announce(`${action} ${name} requested`);
  try {
    const response = await api(`/v1/services/${encodeURIComponent(name)}/${action}`, { method: 'POST', body: '{}' });
    if (response.status === 401) throw new Error(UNAUTHORIZED);
    if (!response.ok) throw new Error(await errorText(response));
    const status = await response.json();
    if (status && status.service) applyStatus(status);
    const phase = status && status.phase ? status.phase : 'done';
    showNotice(`${action} ${name}: ${phase}`, GOOD.has(phase) ? 'ok' : 'error');
  } catch (e) {
    showNotice(`${action} ${name}: ${e.message}`, 'error');
  } finally {
    state.pending.delete(key);
    renderTable();
  }
}

// ---------------------------------------------------------------------------------------------
// Start

function start() {
  state.loopEmptyText = $('devloop-empty').textContent;
  $('notice-close').addEventListener('click', hideNotice);
  $('show-all').addEventListener('click', () => select(null));
  $('search').addEventListener('input', updateSearch);
  $('search').addEventListener('change', updateSearch);
  $('regex').addEventListener('change', updateSearch);
  $('search-form').addEventListener('submit', (e) => e.preventDefault());
  $('follow').addEventListener('click', () => setFollow(!state.follow));
  $('clear').addEventListener('click', () => {
    state.lines = [];
    state.unseen = 0;
    renderLog();
  });
  setInterval(tickUptimes, 1000);
  if (!TOKEN) {
    setConnection('refused', 'no token');
    showNotice('This page needs its token: open the address `novadev ui` prints.', 'error');
    return;
  }
  connectEvents();
  select(null);
}

start();
