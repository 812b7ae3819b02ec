// txrelay's web console: a hash-routed page over the HTTP API (README.md).
// The key lives in sessionStorage and goes with every request as a Bearer
// token. Text from the API only ever reaches the page through textContent
// and setAttribute (el() below), never as HTML.

const KEY = 'txrelay.console.key';
const ROLE = 'txrelay.console.role';
const POLL_MS = 3000;
const CHART_WINDOW_S = 600; // the overview's charts show the last ten minutes
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

const $ = (id) => document.getElementById(id);

// ---- DOM --------------------------------------------------------------------

/** An element with attributes (on* are listeners; `text` sets textContent) and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') node.textContent = String(value);
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replaces `node`'s children (null and false are left out, as in el()). */
function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

const show = (...nodes) => fill($('view'), ...nodes);

function notify(message, kind = 'ok') {
  const box = $('notice');
  box.textContent = message;
  box.className = kind;
  box.hidden = false;
}

const pad = (n) => String(n).padStart(2, '0');

/** An RFC 3339 instant in local time, "2026-12-01 16:02:03"; "" for null. */
function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

const ago = (iso) => (iso ? duration((Date.now() - new Date(iso).getTime()) / 1000) : '–');
const badge = (text, kind = text) => el('span', { class: `badge ${kind}`, text });
const eventLink = (id) => el('a', { href: `#/events/${encodeURIComponent(id)}`, class: 'mono', text: id });

// ---- API ----------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const key = () => sessionStorage.getItem(KEY);
const isAdmin = () => sessionStorage.getItem(ROLE) === 'admin';

/** The API's JSON (or text, for /metrics). A 401 signs out; other errors throw ApiError. */
async function api(path, { method = 'GET' } = {}) {
  const headers = { Authorization: `Bearer ${key()}` };
  // Admin requests must say JSON (no HTML form can): an empty body is fine.
  if (method === 'POST') headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, cache: 'no-store' });
  const text = await res.text();
  let body = text;
  if ((res.headers.get('Content-Type') || '').startsWith('application/json') && text) body = JSON.parse(text);
  if (res.ok) return body;
  const err = body && body.error ? body.error : { code: 'http_' + res.status, message: `HTTP ${res.status}` };
  if (res.status === 401) signOut(`The API key was not accepted: ${err.message}.`);
  throw new ApiError(res.status, err.code, err.message);
}

/** Asks to confirm, runs an admin action, reports and re-renders. */
async function act(question, path, describe) {
  if (!window.confirm(question)) return;
  try {
    const result = await api(path, { method: 'POST' });
    notify(describe(result));
  } catch (e) {
    if (e.status !== 401) notify(`${e.message} (${e.code})`, 'error');
  }
  route();
}

function actionButton(label, question, path, describe, enabled = true) {
  return el('button', {
    type: 'button',
    class: 'action',
    text: label,
    disabled: !isAdmin() || !enabled,
    title: isAdmin() ? null : 'needs an admin key',
    onclick: () => act(question, path, describe),
  });
}

const replayed = (r) =>
  `Replayed ${r.replayed.length} dead ${r.replayed.length === 1 ? 'delivery' : 'deliveries'}` +
  (r.more ? '; more remain: replay again.' : '.');

// ---- sign-in --------------------------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(ROLE);
  stopPage();
  $('bar').hidden = true;
  $('notice').hidden = true;
  show();
  $('signin').hidden = false;
  const error = $('signin-error');
  error.textContent = message || '';
  error.hidden = !message;
  $('api-key').value = '';
  $('api-key').focus();
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(KEY, $('api-key').value.trim());
  let me;
  try {
    me = await api('/v1/whoami'); // the key's role: a reader sees, an admin also acts
  } catch (e) {
    if (e.status !== 401) signOut(`The server did not answer: ${e.message}`);
    return;
  }
  if (me.role !== 'reader' && me.role !== 'admin') {
    signOut('A producer key cannot use the console: sign in with a reader or admin key.');
    return;
  }
  sessionStorage.setItem(ROLE, me.role);
  if (!location.hash || location.hash === '#/') location.hash = '#/overview';
  route();
}

// ---- routing ----------------------------------------------------------------------

let stopCurrent = () => {};
let generation = 0; // a page's late answers are dropped once another page is shown

function stopPage() {
  generation++;
  stopCurrent();
  stopCurrent = () => {};
}

/** Runs `tick` now and every `ms` until the page changes. */
function poll(tick, ms = POLL_MS) {
  const mine = generation;
  let timer = null;
  const run = async () => {
    await tick(() => mine === generation);
    if (mine === generation) timer = setTimeout(run, ms);
  };
  stopCurrent = () => clearTimeout(timer);
  run();
}

function route() {
  stopPage();
  if (!key()) return signOut();
  $('signin').hidden = true;
  $('bar').hidden = false;
  $('who').textContent = isAdmin() ? 'admin' : 'reader (view only)';
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [page, id] = path.split('/').map(decodeURIComponent);
  for (const link of document.querySelectorAll('nav a')) link.classList.toggle('current', link.dataset.page === page);
  if (page === 'sinks') return sinksPage();
  if (page === 'events' && id) return eventPage(id);
  if (page === 'events') return eventsPage(new URLSearchParams(query));
  if (page === 'dead') return deadPage();
  overviewPage();
}

// ---- overview: charts from /metrics ------------------------------------------------

/** The txrelay_sink_* samples of a Prometheus text: name -> sink -> value (sink label only). */
function sinkSamples(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    const m = /^(txrelay_sink_\w+)\{(.*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const [, name, value] of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[name] = value.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    if (Object.keys(labels).length !== 1 || labels.sink === undefined) continue;
    if (!out.has(m[1])) out.set(m[1], new Map());
    out.get(m[1]).set(labels.sink, Number(m[3]));
  }
  return out;
}

const CHARTS = [
  { key: 'delivered', title: 'Delivered per second' },
  { key: 'failed', title: 'Failed attempts per second' },
  { key: 'pending', title: 'Pending deliveries' },
  { key: 'age', title: 'Oldest pending age (seconds)' },
];

// Samples survive leaving the overview, so coming back shows the recent past.
const history = { t: [], sinks: new Map(), last: null };

function record(samples) {
  const t = Date.now() / 1000;
  const get = (name, sink) => samples.get(name)?.get(sink);
  const names = new Set(samples.get('txrelay_sink_pending_deliveries')?.keys() || []);
  for (const sink of samples.get('txrelay_sink_delivered_total')?.keys() || []) names.add(sink);
  history.t.push(t);
  for (const sink of names)
    if (!history.sinks.has(sink))
      history.sinks.set(sink, Object.fromEntries(CHARTS.map((c) => [c.key, history.t.slice(1).map(() => null)])));
  const last = history.last;
  // A counter's rate over the time since the previous sample (none after a restart reset it).
  const rate = (name, sink) => {
    const now = get(name, sink);
    const before = last?.samples.get(name)?.get(sink);
    return now === undefined || before === undefined || now < before ? null : (now - before) / (t - last.t);
  };
  for (const [sink, series] of history.sinks) {
    series.delivered.push(rate('txrelay_sink_delivered_total', sink));
    series.failed.push(rate('txrelay_sink_failed_attempts_total', sink));
    series.pending.push(get('txrelay_sink_pending_deliveries', sink) ?? null);
    series.age.push(get('txrelay_sink_oldest_pending_age_seconds', sink) ?? null);
  }
  history.last = { t, samples };
  while (history.t.length && history.t[0] < t - CHART_WINDOW_S) {
    history.t.shift();
    for (const series of history.sinks.values()) for (const c of CHARTS) series[c.key].shift();
  }
}

function chartOptions(width, sinks) {
  return {
    width,
    height: 200,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
    series: [{}, ...sinks.map((sink, i) => ({ label: sink, stroke: COLORS[i % COLORS.length], width: 2 }))],
    axes: [{}, { size: 56 }],
  };
}

function overviewPage() {
  const status = el('p', { class: 'live' });
  const table = el('div');
  const grid = el('div', { class: 'charts' });
  const boxes = CHARTS.map((c) => {
    const box = el('div', { class: 'chart', 'data-chart': c.key });
    grid.append(el('section', { class: 'panel' }, el('h3', { text: c.title }), box));
    return box;
  });
  show(el('h2', { text: 'Overview' }), status, grid, table);
  let plots = [];
  let shape = '';
  const draw = () => {
    const sinks = [...history.sinks.keys()];
    const data = CHARTS.map((c) => [history.t, ...sinks.map((s) => history.sinks.get(s)[c.key])]);
    if (sinks.join('\n') === shape) return plots.forEach((p, i) => p.setData(data[i]));
    // The first sample, or a sink added or removed (config reload): new series, so new charts.
    shape = sinks.join('\n');
    plots.forEach((p) => p.destroy());
    plots = boxes.map((box, i) => new uPlot(chartOptions(box.clientWidth || 400, sinks), data[i], box));
  };
  const resize = () => plots.forEach((p, i) => p.setSize({ width: boxes[i].clientWidth || 400, height: 200 }));
  window.addEventListener('resize', resize);
  poll(async (current) => {
    try {
      const [metrics, sinks] = await Promise.all([api('/metrics'), api('/v1/sinks')]);
      if (!current()) return;
      record(sinkSamples(metrics));
      draw();
      status.dataset.samples = history.t.length;
      table.replaceChildren(sinkSummary(sinks.sinks));
      status.replaceChildren(el('span', { class: 'dot' }), `Live: updated ${when(new Date().toISOString())}`);
      status.classList.remove('stale');
    } catch (e) {
      if (!current() || e.status === 401) return;
      status.textContent = `Not updated: ${e.message}`;
      status.classList.add('stale');
    }
  });
  const stopPolling = stopCurrent;
  stopCurrent = () => {
    stopPolling();
    window.removeEventListener('resize', resize);
    plots.forEach((p) => p.destroy());
  };
}

function sinkSummary(sinks) {
  const rows = sinks.map((s) =>
    el('tr', {},
      el('td', {}, el('a', { href: '#/sinks', text: s.name })),
      el('td', {}, badge(s.state)),
      el('td', { class: 'num', text: s.pending }),
      el('td', { text: ago(s.oldest_pending_at) }),
      el('td', { class: 'num', text: s.delivered }),
      el('td', { class: 'num', text: s.failed_attempts }),
      el('td', { class: 'num', text: s.dead }),
      el('td', { class: 'error-text', text: s.last_error || '' })));
  return el('table', { class: 'grid' },
    el('thead', {}, el('tr', {}, ...['Sink', 'State', 'Pending', 'Oldest pending', 'Delivered', 'Failed attempts', 'Dead', 'Last error']
      .map((h) => el('th', { text: h })))),
    el('tbody', {}, rows));
}

// ---- sinks ----------------------------------------------------------------------------

function sinkCard(s) {
  const fact = (label, value) => el('div', { class: 'fact' }, el('span', { text: label }), el('strong', { text: value }));
  const limited = s.wait_until ? `until ${when(s.wait_until)}` : 'no';
  const stuck = s.paused || s.state !== 'ok';
  return el('article', { class: 'card sink', 'data-sink': s.name },
    el('header', {},
      el('h3', { text: s.name }),
      badge(s.state),
      badge(`circuit ${s.circuit}`, `circuit-${s.circuit}`),
      s.paused ? badge('paused') : null),
    el('p', { class: 'muted' },
      `${s.kind}${s.partition_of ? `, partition of ${s.partition_of}` : ''}`,
      s.endpoint ? ` · ${s.endpoint}` : '',
      s.signed ? ' · signed' : ''),
    el('div', { class: 'facts' },
      fact('Pending', s.pending),
      fact('Oldest pending', ago(s.oldest_pending_at)),
      fact('In flight', s.in_flight),
      fact('Delivered', s.delivered),
      fact('Failed attempts', s.failed_attempts),
      fact('Dead', s.dead),
      fact('Rate-limit pause', limited),
      fact('Last success', s.last_success_at ? `${ago(s.last_success_at)} ago` : '–')),
    s.last_error
      ? el('div', { class: 'last-error' }, el('span', { text: `Last error ${when(s.last_error_at)}` }), el('code', { text: s.last_error }))
      : null,
    el('div', { class: 'actions' },
      s.paused
        ? null
        : actionButton('Pause', `Pause sink "${s.name}"? Nothing is sent to it until it is resumed.`,
          `/v1/sinks/${encodeURIComponent(s.name)}/pause`, () => `Paused ${s.name}.`),
      stuck
        ? actionButton('Resume', `Resume sink "${s.name}"? This lifts a pause, a broken state, an open circuit or a failed sender.`,
          `/v1/sinks/${encodeURIComponent(s.name)}/resume`, () => `Resumed ${s.name}.`)
        : null,
      actionButton('Replay dead', `Replay every dead delivery of sink "${s.name}"? They are sent again, with fresh attempts.`,
        `/v1/sinks/${encodeURIComponent(s.name)}/replay`, replayed)));
}

function sinksPage() {
  const list = el('div', { class: 'cards' });
  show(el('h2', { text: 'Sinks' }), list);
  poll(async (current) => {
    try {
      const { sinks } = await api('/v1/sinks');
      if (current()) list.replaceChildren(...sinks.map(sinkCard));
    } catch (e) {
      if (current() && e.status !== 401) list.replaceChildren(el('p', { class: 'error', text: e.message }));
    }
  });
}

// ---- events: search and detail ---------------------------------------------------------

const SEARCH_FIELDS = ['topic', 'key', 'status', 'sink', 'since', 'until'];

function searchForm(params, sinkNames) {
  const input = (name, attrs = {}) => el('input', { name, id: `q-${name}`, value: params.get(name) || '', ...attrs });
  const select = (name, options) =>
    el('select', { name, id: `q-${name}` },
      ['', ...options].map((o) => el('option', { value: o, text: o || 'any', selected: params.get(name) === o && o !== '' })));
  // datetime-local shows local time; the API takes RFC 3339, so the hash keeps that.
  const local = (iso) => {
    if (!iso) return '';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : `${when(iso).replace(' ', 'T')}`;
  };
  const field = (label, control) => el('label', {}, el('span', { text: label }), control);
  return el('form', {
    class: 'search',
    onsubmit: (e) => {
      e.preventDefault();
      const form = new FormData(e.target);
      const q = new URLSearchParams();
      for (const name of SEARCH_FIELDS) {
        let v = String(form.get(name) || '').trim();
        if (v && (name === 'since' || name === 'until')) v = new Date(v).toISOString();
        if (v) q.set(name, v);
      }
      location.hash = `#/events?${q}`;
    },
  },
  field('Topic', input('topic')),
  field('Key', input('key')),
  field('Status', select('status', ['pending', 'delivered', 'dead', 'rejected'])),
  field('Sink', select('sink', sinkNames)),
  field('Since', input('since', { type: 'datetime-local', step: 1, value: local(params.get('since')) })),
  field('Until', input('until', { type: 'datetime-local', step: 1, value: local(params.get('until')) })),
  el('button', { type: 'submit', text: 'Search' }));
}

function deliveryChips(deliveries) {
  return deliveries.map((d) => el('span', { class: `chip ${d.status}`, title: d.last_error || null, text: `${d.sink}: ${d.status}` }));
}

async function eventsPage(params) {
  const mine = generation;
  const results = el('div', { class: 'results' }, el('p', { class: 'muted', text: 'Searching…' }));
  const byId = el('form', {
    class: 'by-id',
    onsubmit: (e) => {
      e.preventDefault();
      const id = new FormData(e.target).get('id').trim();
      if (id) location.hash = `#/events/${encodeURIComponent(id)}`;
    },
  }, el('input', { name: 'id', placeholder: 'event id', 'aria-label': 'event id' }), el('button', { type: 'submit', text: 'Open' }));
  let sinkNames = [];
  try {
    sinkNames = [...new Set((await api('/v1/sinks')).sinks.map((s) => s.partition_of || s.name))];
  } catch { /* the search still works without the list */ }
  if (mine !== generation) return;
  show(el('h2', { text: 'Events' }), byId, searchForm(params, sinkNames), results);
  const q = new URLSearchParams();
  for (const name of [...SEARCH_FIELDS, 'cursor']) if (params.get(name)) q.set(name, params.get(name));
  try {
    const page = await api(`/v1/events?${q}`);
    if (mine !== generation) return;
    if (!page.events.length) return results.replaceChildren(el('p', { class: 'muted', text: 'No events match.' }));
    const rows = page.events.map((e) =>
      el('tr', {},
        el('td', { text: when(e.created_at) }),
        el('td', {}, eventLink(e.id)),
        el('td', { text: e.topic }),
        el('td', { text: e.key ?? '' }),
        el('td', {}, badge(e.routing)),
        el('td', {}, deliveryChips(e.deliveries))));
    const newest = new URLSearchParams(q);
    newest.delete('cursor');
    const older = new URLSearchParams(q);
    older.set('cursor', page.next || '');
    results.replaceChildren(
      el('table', { class: 'grid' },
        el('thead', {}, el('tr', {}, ...['Created', 'Event', 'Topic', 'Key', 'Routing', 'Deliveries'].map((h) => el('th', { text: h })))),
        el('tbody', {}, rows)),
      el('p', { class: 'pager' },
        params.get('cursor') ? el('a', { href: `#/events?${newest}`, text: 'Newest' }) : null,
        page.next ? el('a', { href: `#/events?${older}`, text: 'Older' }) : null));
  } catch (e) {
    if (mine !== generation || e.status === 401) return;
    const missing = e.status === 404 || e.status === 405;
    results.replaceChildren(el('p', { class: 'error', text: missing
      ? `This server does not offer event search (GET /v1/events answered ${e.status}); open an event by its id.`
      : e.message }));
  }
}

function attemptTable(history) {
  if (!history) return el('p', { class: 'muted', text: 'This server keeps no attempt history.' });
  if (!history.length) return el('p', { class: 'muted', text: 'No failed attempts.' });
  return el('table', { class: 'grid attempts' },
    el('thead', {}, el('tr', {}, ...['#', 'At', 'Took', 'Outcome', 'HTTP', 'Error', 'Response excerpt'].map((h) => el('th', { text: h })))),
    el('tbody', {}, history.map((a) =>
      el('tr', {},
        el('td', { class: 'num', text: a.attempt }),
        el('td', { class: 'nowrap', text: when(a.at) }),
        el('td', { class: 'num nowrap', text: `${a.duration_ms} ms` }),
        el('td', {}, badge(a.outcome)),
        el('td', { class: 'num', text: a.http_status ?? '' }),
        el('td', {}, a.error || '', a.error_class ? el('span', { class: 'muted', text: ` (${a.error_class})` }) : null),
        el('td', {}, a.response_excerpt ? el('pre', { class: 'excerpt', text: a.response_excerpt }) : '')))));
}

function deliveryCard(d) {
  return el('article', { class: 'card delivery', 'data-delivery': d.id, 'data-status': d.status },
    el('header', {}, el('h3', { text: d.sink }), badge(d.status)),
    el('p', { class: 'muted mono', text: d.id }),
    el('p', {},
      `${d.attempts} ${d.attempts === 1 ? 'attempt' : 'attempts'}`,
      d.next_attempt_at ? `, next ${when(d.next_attempt_at)}` : '',
      `, updated ${when(d.updated_at)}`,
      d.last_status ? `, last HTTP status ${d.last_status}` : ''),
    d.last_error ? el('div', { class: 'last-error' }, el('span', { text: 'Last error' }), el('code', { text: d.last_error })) : null,
    attemptTable(d.attempt_history));
}

function eventPage(id) {
  const body = el('div', {}, el('p', { class: 'muted', text: 'Loading…' }));
  show(el('h2', {}, 'Event ', el('span', { class: 'mono', text: id })), body);
  poll(async (current) => {
    try {
      const e = await api(`/v1/events/${encodeURIComponent(id)}`);
      if (!current()) return;
      const dead = e.deliveries.filter((d) => d.status === 'dead').length;
      fill(body,
        el('dl', { class: 'meta' },
          el('dt', { text: 'Topic' }), el('dd', { text: e.topic }),
          el('dt', { text: 'Key' }), el('dd', { text: e.key ?? '–' }),
          el('dt', { text: 'Created' }), el('dd', { text: when(e.created_at) }),
          el('dt', { text: 'Routing' }), el('dd', {}, badge(e.routing))),
        e.rejection ? el('pre', { class: 'last-error', text: JSON.stringify(e.rejection, null, 2) }) : null,
        el('div', { class: 'actions' },
          actionButton(dead ? `Replay ${dead} dead` : 'Replay dead', `Replay this event's ${dead} dead ${dead === 1 ? 'delivery' : 'deliveries'}?`,
            `/v1/events/${encodeURIComponent(id)}/replay`, replayed, dead > 0)),
        el('h3', { text: 'Deliveries' }),
        e.deliveries.length ? el('div', { class: 'stack' }, e.deliveries.map(deliveryCard)) : el('p', { class: 'muted', text: 'None.' }),
        el('h3', { text: 'Payload' }),
        el('pre', { class: 'payload', text: JSON.stringify(e.payload, null, 2) }));
    } catch (e) {
      if (current() && e.status !== 401) body.replaceChildren(el('p', { class: 'error', text: e.message }));
    }
  });
}

// ---- dead letters ------------------------------------------------------------------------

async function deadSection(name) {
  const section = el('section', { class: 'dead-sink', 'data-sink': name });
  const rows = el('tbody');
  const more = el('p', { class: 'pager' });
  const load = async (after) => {
    const page = await api(`/v1/sinks/${encodeURIComponent(name)}/dead?limit=50${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    for (const d of page.dead)
      rows.append(el('tr', { 'data-delivery': d.id },
        el('td', { text: when(d.died_at) }),
        el('td', {}, eventLink(d.event_id)),
        el('td', { text: d.topic }),
        el('td', { text: d.key ?? '' }),
        el('td', { class: 'num', text: d.attempts }),
        el('td', { class: 'num', text: d.last_status ?? '' }),
        el('td', { class: 'error-text', text: d.last_error || '' }),
        el('td', {}, actionButton('Replay', `Replay the dead deliveries of event ${d.event_id}?`,
          `/v1/events/${encodeURIComponent(d.event_id)}/replay`, replayed))));
    more.replaceChildren(page.next ? el('button', { type: 'button', text: 'More', onclick: () => load(page.next) }) : '');
    return rows.children.length;
  };
  if (!(await load(null))) return null;
  section.append(
    el('header', {}, el('h3', { text: name }),
      actionButton('Replay all', `Replay every dead delivery of sink "${name}"?`, `/v1/sinks/${encodeURIComponent(name)}/replay`, replayed)),
    el('table', { class: 'grid' },
      el('thead', {}, el('tr', {}, ...['Died', 'Event', 'Topic', 'Key', 'Attempts', 'Last status', 'Last error', ''].map((h) => el('th', { text: h })))),
      rows),
    more);
  return section;
}

async function deadPage() {
  const mine = generation;
  const list = el('div', {}, el('p', { class: 'muted', text: 'Loading…' }));
  show(el('h2', {}, 'Dead letters ', el('button', { type: 'button', class: 'small', text: 'Refresh', onclick: route })), list);
  try {
    const names = [...new Set((await api('/v1/sinks')).sinks.map((s) => s.partition_of || s.name))];
    const sections = (await Promise.all(names.map(deadSection))).filter(Boolean);
    if (mine !== generation) return;
    list.replaceChildren(...(sections.length ? sections : [el('p', { class: 'muted', text: 'No dead letters.' })]));
  } catch (e) {
    if (mine === generation && e.status !== 401) list.replaceChildren(el('p', { class: 'error', text: e.message }));
  }
}

// ---- start ---------------------------------------------------------------------------------

$('signin-form').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', () => {
  $('notice').hidden = true; // a notice is about the page it was shown on
  if (key()) route();
});
route();
