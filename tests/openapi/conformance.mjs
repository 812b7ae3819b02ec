// ctest openapi_conformance: the real server answers as docs/openapi.yaml says.
//
//   node conformance.mjs /path/to/txrelay        (TXRELAY_TEST_DATABASE_URL: a PostgreSQL server)
//
// Creates its own database, runs a fake webhook receiver on loopback, writes a
// config (three webhook sinks on that receiver: one that accepts, one that
// always fails so dead letters exist, one that fails each delivery's first
// attempt; producer, reader and admin keys), runs `txrelay migrate` and
// `txrelay serve` on a free loopback port, then calls every documented
// operation with the fixtures below, error cases included. Each answer's
// status must be one the document lists for that operation (and the one the
// fixture expects), its Content-Type one the document gives for that status,
// and its JSON body must validate against the documented schema.
//
// It also fails when the document and the server disagree on what exists: an
// operation without a fixture, a path in src/app/api.cpp's route list that
// the document lacks (or the reverse), or a method the server serves on a
// documented path that the document does not describe.
//
// The server is stopped and its database dropped whatever happens.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deref, loadDocument, mediaType, operations, roles, schemaValidators, sourceDir } from './openapi.mjs';

const binary = process.argv[2];
const adminUrl = process.env.TXRELAY_TEST_DATABASE_URL;
if (!binary || !adminUrl) {
  console.error('usage: TXRELAY_TEST_DATABASE_URL=postgresql://... node conformance.mjs /path/to/txrelay');
  process.exit(2);
}

const doc = loadDocument();
const ops = operations(doc);
const opsById = new Map(ops.map((o) => [o.id, o]));
const validators = schemaValidators(doc);

// ---------------------------------------------------------------- findings

const failures = [];
let checked = 0;
const exercised = new Map(ops.map((o) => [o.id, new Set()])); // statuses seen per operation

function fail(what) {
  failures.push(what);
  console.error(`FAIL ${what}`);
}

function excerpt(text, n = 400) {
  return text.length > n ? `${text.slice(0, n)}…` : text;
}

// ------------------------------------------------------------ environment

const keys = Object.fromEntries(roles.map((r) => [r, `${r}-${randomBytes(16).toString('hex')}`]));
const unknownKey = `unknown-${randomBytes(16).toString('hex')}`;
const dbName = `txrelay_openapi_${randomBytes(6).toString('hex')}`;
const workDir = mkdtempSync(join(tmpdir(), 'txrelay-openapi-'));
const configPath = join(workDir, 'txrelay.yaml');
const logPath = join(workDir, 'txrelay.log');
let port = 0;
let sinkServer = null;
let server = null;
let dbCreated = false;

function psql(url, sql) {
  return execFileSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  }).toString();
}

/// The admin connection string with its database replaced (URL or keyword form).
function withDbname(url, name) {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const u = new URL(url);
    u.pathname = `/${name}`;
    return u.toString();
  }
  return `${url} dbname=${name}`; // libpq: a repeated keyword's last value counts
}
const dbUrl = withDbname(adminUrl, dbName);

/// A webhook receiver: /ok accepts, /fail always answers 500, /flaky fails
/// each delivery's first attempt (by webhook-id) and accepts its retry.
function startFakeSink() {
  const attempts = new Map();
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/ok') return res.writeHead(204).end();
      if (req.url === '/flaky') {
        const id = String(req.headers['webhook-id'] ?? '');
        attempts.set(id, (attempts.get(id) ?? 0) + 1);
        if (attempts.get(id) > 1) return res.writeHead(204).end();
      }
      res.writeHead(500, { 'content-type': 'text/plain' }).end('the fake receiver refuses this one');
    });
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    });
  });
}

function configText(sinkPort) {
  const server = { max_body_bytes: 65536, allowed_hosts: '[127.0.0.1]', shutdown_grace: '2s' };
  return `# Written by tests/openapi/conformance.mjs for one run.
server:
  listen: 127.0.0.1:${port}
${Object.entries(server)
  .map(([k, v]) => `  ${k}: ${v}`)
  .join('\n')}
auth:
  keys:
${roles.map((r) => `    - {name: ${r}-one, role: ${r}, key: "${keys[r]}"}`).join('\n')}
retention:
  delivered: 1d            # getEvent answers "expired" for ids older than this
topics:
  orders:
    payload:
      amount: {type: integer, required: true}
sinks:
  - name: good
    kind: webhook
    url: http://127.0.0.1:${sinkPort}/ok
  - name: bad
    kind: webhook
    url: http://127.0.0.1:${sinkPort}/fail
    retry: {max_attempts: 2, base: 10ms, cap: 20ms}
  - name: flaky
    kind: webhook
    url: http://127.0.0.1:${sinkPort}/flaky
    retry: {max_attempts: 3, base: 10ms, cap: 20ms}
routes:
  - topic: orders
    sinks: [good, bad, flaky]
`;
}

function logTail(lines = 30) {
  try {
    return readFileSync(logPath, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ----------------------------------------------------------------- HTTP

/// One request to the server; resolves with { status, headers, text }.
function send({ method, path, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const h = { host: `127.0.0.1:${port}`, ...headers };
    if (data) h['content-length'] = data.length;
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: h, agent: false, timeout: 20_000 }, (res) => {
      answered = true;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
    // A server that answers early (413) and closes may cut our upload short:
    // the answer is what counts.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.end(data);
  });
}

const json = (res) => {
  try {
    return JSON.parse(res.text);
  } catch {
    return undefined;
  }
};

/// Fills in a case's request: path parameters, query, key, content type.
function requestFor(o, c, ctx) {
  const value = (v) => (typeof v === 'function' ? v(ctx) : v);
  const params = value(c.params) ?? {};
  let path = o.path.replace(/\{(\w+)\}/g, (_, n) => {
    if (params[n] === undefined) throw new Error(`no value for path parameter ${n}`);
    return encodeURIComponent(params[n]);
  });
  const query = value(c.query);
  if (query && Object.keys(query).length) path += `?${new URLSearchParams(query)}`;
  const headers = { ...value(c.headers) };
  const key = c.key ?? (c.role ? keys[c.role] : undefined);
  if (key) headers.authorization = `Bearer ${key}`;
  const body = value(c.body);
  if (c.contentType !== null && (body !== undefined || o.method === 'POST'))
    headers['content-type'] = c.contentType ?? 'application/json';
  return { method: c.method ?? o.method, path, headers, body };
}

/// Checks one answer against the document: status listed (and expected),
/// required headers present, Content-Type documented, JSON body valid.
function checkAnswer(o, res, label, expect) {
  checked++;
  if (expect !== undefined && res.status !== expect)
    fail(`${label}: expected ${expect}, got ${res.status}: ${excerpt(res.text)}`);
  const listed = o.op.responses?.[String(res.status)];
  if (!listed) {
    fail(`${label}: answered ${res.status}, which the document does not list for ${o.id} ` +
      `(it lists ${Object.keys(o.op.responses ?? {}).join(', ')}): ${excerpt(res.text)}`);
    return;
  }
  exercised.get(o.id).add(String(res.status));
  const documented = deref(doc, listed);
  for (const [name, h] of Object.entries(documented.headers ?? {})) {
    const header = deref(doc, h);
    const got = res.headers[name.toLowerCase()];
    if (header.required && got === undefined) fail(`${label}: ${res.status} without its ${name} header`);
    if (got !== undefined && header.schema?.const !== undefined && got !== header.schema.const)
      fail(`${label}: ${name} is "${got}", the document says "${header.schema.const}"`);
  }
  if (!documented.content) {
    if (res.text.length) fail(`${label}: ${res.status} has a body; the document says it has none`);
    return;
  }
  const type = mediaType(res.headers['content-type']);
  const media = documented.content[type];
  if (!media) {
    fail(`${label}: ${res.status} came as ${type || 'no Content-Type'}; the document gives ` +
      `${Object.keys(documented.content).join(', ')}`);
    return;
  }
  if (type !== 'application/json') return;
  const body = json(res);
  if (body === undefined) return fail(`${label}: ${res.status} body is not JSON: ${excerpt(res.text)}`);
  let validate;
  try {
    validate = validators.compile(media.schema, `${o.id} ${res.status}`);
  } catch (err) {
    return fail(`${label}: the documented schema does not compile: ${err.message}`);
  }
  if (!validate(body))
    fail(`${label}: ${res.status} body does not match the document: ${validators.errorsText(validate)}\n    body: ${excerpt(res.text)}`);
}

/// A request body that a fixture expects the server to accept must be one the
/// document's request schema accepts; one marked `refusedBody` must not be.
function checkRequestBody(o, c, body, label) {
  const schema = o.op.requestBody && deref(doc, o.op.requestBody).content?.['application/json']?.schema;
  if (!schema || typeof body !== 'object') return;
  const validate = validators.compile(schema, `${o.id} request`);
  const ok = validate(body);
  if (c.refusedBody && ok) fail(`${label}: the documented request schema accepts a body the server refuses`);
  if (!c.refusedBody && c.expect >= 200 && c.expect < 300 && !ok)
    fail(`${label}: the documented request schema refuses a body the server accepts: ${validators.errorsText(validate)}`);
}

/// Runs one fixture case of operation `id`: the request, then every check.
async function run(id, cc, ctx) {
  const o = opsById.get(id);
  const label = `${o.id} (${o.method} ${o.path}) ${cc.name}${cc.role ? ` as ${cc.role}` : ''}`;
  let req;
  try {
    req = requestFor(o, cc, ctx);
  } catch (err) {
    return fail(`${label}: cannot build the request: ${err.message}`);
  }
  checkRequestBody(o, cc, req.body, label);
  let res;
  try {
    res = await send(req);
  } catch (err) {
    return fail(`${label}: no answer: ${err.message}`);
  }
  checkAnswer(o, res, label, cc.expect);
  if (cc.check && (cc.expect === undefined || res.status === cc.expect)) {
    try {
      cc.check(json(res), res, ctx);
    } catch (err) {
      fail(`${label}: ${err.message}`);
    }
  }
  return res;
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/// Polls `probe` (an async function returning true when done) until it holds.
async function eventually(what, probe, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > until) {
      fail(`timed out after ${ms / 1000} s waiting for ${what}`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/// A UUIDv7 for the given time, random otherwise.
function uuidV7(ms) {
  const b = randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function nested(depth) {
  let v = {};
  for (let i = 0; i < depth; i++) v = { v };
  return v;
}

// --------------------------------------------------------------- fixtures
// Keyed by operationId; each operation's cases run in order, operations in
// the order below (later ones use what earlier ones created, in ctx). The
// first case of each is also the template for the generic checks (no key,
// wrong role, wrong Host, no Content-Type). `expect` is the status the case
// must get; `check` looks at what the schema cannot.

const orders = (amount, key) => ({ topic: 'orders', ...(key ? { key } : {}), payload: { amount } });
const errorCode = (code) => (body) => assert(body?.error?.code === code, `error.code is ${body?.error?.code}, expected ${code}`);
const sinksOf = (e) => (e?.deliveries ?? []).map((d) => d.sink).sort().join(',');

const fixtures = {
  publishEvent: [
    {
      name: 'stored',
      role: 'producer',
      headers: (ctx) => ({ 'idempotency-key': ctx.idem }),
      body: orders(1, 'k-main'),
      expect: 201,
      check: (b, _, ctx) => {
        assert(sinksOf(b) === 'bad,flaky,good', `deliveries to ${sinksOf(b)}, expected bad, flaky, good`);
        ctx.event = b;
      },
    },
    {
      name: 'the same Idempotency-Key again',
      role: 'producer',
      headers: (ctx) => ({ 'idempotency-key': ctx.idem }),
      body: orders(1, 'k-main'),
      expect: 200,
      check: (b, _, ctx) => assert(b.id === ctx.event?.id, 'a repeated key answered another event'),
    },
    { name: 'posted with an admin key', role: 'admin', body: orders(2), expect: 201, check: (b, _, ctx) => (ctx.adminEvent = b) },
    { name: 'not JSON', role: 'producer', body: '{"topic": ', expect: 400, check: errorCode('invalid_json') },
    {
      name: 'a misspelt field',
      role: 'producer',
      body: { topic: 'orders', paylaod: { amount: 1 } },
      refusedBody: true,
      expect: 400,
      check: errorCode('invalid_event'),
    },
    { name: 'nested too deep', role: 'producer', body: { topic: 'orders', payload: nested(80) }, expect: 400, check: errorCode('nesting_too_deep') },
    {
      name: 'an Idempotency-Key over 200 characters',
      role: 'producer',
      headers: { 'idempotency-key': 'k'.repeat(201) },
      body: orders(1),
      expect: 400,
      check: errorCode('invalid_idempotency_key'),
    },
    { name: 'a topic no route names', role: 'producer', body: { topic: 'nobody.listens', payload: {} }, expect: 422, check: errorCode('no_route') },
    {
      name: "a payload breaking its topic's schema",
      role: 'producer',
      body: { topic: 'orders', payload: { amount: 'one' } },
      expect: 422,
      check: (b) => assert(b.error?.code === 'schema_violation' && b.error.violations?.length > 0, 'expected schema_violation with violations'),
    },
    { name: 'a body over max_body_bytes', role: 'producer', body: { topic: 'orders', payload: { pad: 'x'.repeat(70_000) } }, expect: 413 },
  ],

  publishEventBatch: [
    {
      name: 'stored',
      role: 'producer',
      headers: (ctx) => ({ 'idempotency-key': ctx.batchIdem }),
      body: { events: [orders(3, 'k-batch'), orders(4)] },
      expect: 201,
      check: (b, _, ctx) => {
        assert(b.events?.length === 2, 'expected two receipts');
        ctx.batch = b.events;
      },
    },
    {
      name: 'the same Idempotency-Key again',
      role: 'producer',
      headers: (ctx) => ({ 'idempotency-key': ctx.batchIdem }),
      body: { events: [orders(3, 'k-batch'), orders(4)] },
      expect: 200,
      check: (b, _, ctx) => assert(b.events?.[1]?.id === ctx.batch?.[1]?.id, 'a repeated key answered other events'),
    },
    { name: 'posted with an admin key', role: 'admin', body: { events: [orders(7)] }, expect: 201 },
    { name: 'no events', role: 'producer', body: { events: [] }, refusedBody: true, expect: 400, check: errorCode('invalid_event') },
    {
      name: 'an invalid item',
      role: 'producer',
      body: { events: [orders(5), { topic: 'orders', paylod: {} }] },
      refusedBody: true,
      expect: 400,
      check: (b) => assert(b.error?.code === 'invalid_batch' && b.error.items?.[0]?.index === 1, 'expected invalid_batch naming item 1'),
    },
    {
      name: 'items refused by routing and schema',
      role: 'producer',
      body: { events: [orders(6), { topic: 'nobody.listens', payload: {} }, { topic: 'orders', payload: { amount: 'x' } }] },
      expect: 422,
      check: (b) => assert(b.error?.items?.map((i) => i.index).join() === '1,2', 'expected items 1 and 2'),
      after: settle,
    },
    { name: 'a body over max_body_bytes', role: 'producer', body: { events: [{ topic: 'orders', payload: { pad: 'x'.repeat(70_000) } }] }, expect: 413 },
  ],

  getEvent: [
    {
      name: 'an event and its deliveries',
      role: 'reader',
      params: (ctx) => ({ id: ctx.event.id }),
      expect: 200,
      check: (b) => {
        const by = Object.fromEntries((b.deliveries ?? []).map((d) => [d.sink, d]));
        assert(by.bad?.status === 'dead' && by.flaky?.status === 'delivered' && by.good?.status === 'delivered',
          `delivery states ${JSON.stringify(Object.values(by).map((d) => [d.sink, d.status]))}`);
        // Non-empty, so the schema of an attempt is really checked.
        assert(by.bad.attempt_history?.length > 0, 'the dead delivery has no attempt_history');
        assert(by.flaky.attempt_history?.length > 0, 'the delivery that failed once has no attempt_history');
        assert(by.good.attempt_history?.length === 0, 'a first-attempt success has attempt_history entries');
      },
    },
    { name: 'its producer reads its receipt', role: 'producer', params: (ctx) => ({ id: ctx.event.id }), expect: 200 },
    { name: "a producer asks for another key's event", role: 'producer', params: (ctx) => ({ id: ctx.adminEvent.id }), expect: 404 },
    { name: 'no such event', role: 'reader', params: () => ({ id: uuidV7(Date.now()) }), expect: 404, check: errorCode('not_found') },
    { name: 'an id older than retention', role: 'reader', params: () => ({ id: uuidV7(Date.parse('2020-01-01T00:00:00Z')) }), expect: 404, check: errorCode('expired') },
    { name: 'not an event id', role: 'reader', params: { id: 'not-an-id' }, expect: 404 },
  ],

  searchEvents: [
    { name: 'newest first', role: 'reader', expect: 200, check: (b) => assert(b.events?.length >= 4, 'expected the events posted so far') },
    {
      name: 'dead at one sink, one per page',
      role: 'reader',
      query: { topic: 'orders', status: 'dead', sink: 'bad', limit: '1' },
      expect: 200,
      check: (b, _, ctx) => {
        assert(b.events?.length === 1 && typeof b.next === 'string', 'expected one event and a next cursor');
        ctx.searchNext = b.next;
      },
    },
    {
      name: 'the following page',
      role: 'reader',
      query: (ctx) => ({ topic: 'orders', status: 'dead', sink: 'bad', limit: '1', cursor: ctx.searchNext ?? '' }),
      expect: 200,
      check: (b) => assert(b.events?.length === 1, 'expected the second dead event'),
    },
    {
      name: 'by key and time window',
      role: 'reader',
      query: () => ({ key: 'k-main', since: new Date(Date.now() - 3_600_000).toISOString(), until: new Date(Date.now() + 3_600_000).toISOString() }),
      expect: 200,
      check: (b, _, ctx) => assert(b.events?.length === 1 && b.events[0].id === ctx.event.id, 'expected the one event with key k-main'),
    },
    { name: 'limit 0', role: 'reader', query: { limit: '0' }, expect: 400, check: errorCode('invalid_query') },
    { name: 'limit 501', role: 'reader', query: { limit: '501' }, expect: 400, check: errorCode('invalid_query') },
    { name: 'an unknown status', role: 'reader', query: { status: 'lost' }, expect: 400, check: errorCode('invalid_query') },
    { name: 'since not an instant', role: 'reader', query: { since: 'yesterday' }, expect: 400, check: errorCode('invalid_query') },
    { name: 'a malformed cursor', role: 'reader', query: { cursor: '%%not-a-cursor%%' }, expect: 400, check: errorCode('invalid_query') },
  ],

  listSinkDeadDeliveries: [
    { name: "a sink's dead letters", role: 'reader', params: { name: 'bad' }, expect: 200, check: (b) => assert(b.dead?.length >= 2, 'expected the dead deliveries') },
    {
      name: 'one per page',
      role: 'reader',
      params: { name: 'bad' },
      query: { limit: '1' },
      expect: 200,
      check: (b, _, ctx) => {
        assert(b.dead?.length === 1 && typeof b.next === 'string', 'expected one dead letter and a next id');
        ctx.deadNext = b.next;
      },
    },
    { name: 'the following page', role: 'reader', params: { name: 'bad' }, query: (ctx) => ({ limit: '1', after: ctx.deadNext }), expect: 200 },
    { name: 'limit 0', role: 'reader', params: { name: 'bad' }, query: { limit: '0' }, expect: 400, check: errorCode('invalid_query') },
    { name: 'limit 1001', role: 'reader', params: { name: 'bad' }, query: { limit: '1001' }, expect: 400, check: errorCode('invalid_query') },
    { name: 'after not a delivery id', role: 'reader', params: { name: 'bad' }, query: { after: 'xyz' }, expect: 400, check: errorCode('invalid_query') },
    { name: 'no such sink', role: 'reader', params: { name: 'no-such-sink' }, expect: 404 },
  ],

  listSinks: [
    { name: 'every sink', role: 'reader', expect: 200, check: (b) => assert(b.sinks?.map((s) => s.name).sort().join() === 'bad,flaky,good', 'expected sinks bad, flaky, good') },
  ],

  whoami: [
    { name: 'a reader', role: 'reader', expect: 200, check: (b) => assert(b.role === 'reader' && b.name && b.authenticated, 'not the reader') },
    { name: 'an admin', role: 'admin', expect: 200, check: (b) => assert(b.role === 'admin', 'not the admin') },
    { name: 'a producer', role: 'producer', expect: 200, check: (b) => assert(b.role === 'producer', 'not the producer') },
  ],

  listNodes: [
    { name: 'this node', role: 'reader', expect: 200, check: (b) => assert(b.nodes?.some((n) => n.id === b.self && n.live), 'this node is not listed as live') },
  ],

  pauseSink: [
    { name: 'pause', role: 'admin', params: { name: 'good' }, expect: 200, check: (b) => assert(b.paused === true, 'not paused') },
    { name: 'no such sink', role: 'admin', params: { name: 'no-such-sink' }, expect: 404 },
  ],

  resumeSink: [
    { name: 'resume', role: 'admin', params: { name: 'good' }, expect: 200, check: (b) => assert(b.paused === false, 'still paused') },
    { name: 'no such sink', role: 'admin', params: { name: 'no-such-sink' }, expect: 404 },
  ],

  replayEventDeadDeliveries: [
    {
      name: "an event's dead delivery",
      role: 'admin',
      params: (ctx) => ({ id: ctx.event.id }),
      expect: 200,
      check: (b) => assert(b.replayed?.length === 1 && b.replayed[0].sink === 'bad', 'expected the dead delivery to bad'),
    },
    { name: 'an event with none', role: 'admin', params: () => ({ id: uuidV7(Date.now()) }), expect: 200, check: (b) => assert(b.replayed?.length === 0, 'replayed something') },
    { name: 'not an event id', role: 'admin', params: { id: 'not-an-id' }, expect: 404 },
  ],

  replaySinkDeadDeliveries: [
    { name: "a sink's dead deliveries", role: 'admin', params: { name: 'bad' }, expect: 200, check: (b) => assert(b.replayed?.length >= 1, 'replayed nothing') },
    { name: 'no such sink', role: 'admin', params: { name: 'no-such-sink' }, expect: 404 },
  ],

  reloadConfig: [
    { name: 'an unchanged file', role: 'admin', expect: 200, check: (b) => assert(b.added?.length === 0 && b.changed?.length === 0, 'reported changes') },
    {
      name: 'a file that does not load',
      role: 'admin',
      before: () => writeFileSync(configPath, `${readFileSync(configPath, 'utf8')}\nno_such_section: true\n`),
      after: (ctx) => writeFileSync(configPath, ctx.config),
      expect: 422,
      check: errorCode('invalid_config'),
    },
    {
      name: 'a change only a restart applies',
      role: 'admin',
      before: (ctx) => writeFileSync(configPath, ctx.config.replace('shutdown_grace: 2s', 'shutdown_grace: 3s')),
      after: (ctx) => writeFileSync(configPath, ctx.config),
      expect: 409,
      check: errorCode('restart_required'),
    },
  ],

  getMetrics: [
    {
      name: 'the metrics',
      role: 'reader',
      expect: 200,
      check: (_, res) => assert(res.text.includes('txrelay_http_requests_total{'), 'no txrelay_http_requests_total series'),
    },
  ],

  getHealth: [{ name: 'healthy', expect: 200, check: (b) => assert(b.status === 'ok', 'not ok') }],

  getConsole: [
    {
      name: 'the page',
      expect: 200,
      check: (_, res, ctx) => {
        assert(/<html/i.test(res.text), 'not an HTML page');
        ctx.consoleEtag = res.headers.etag;
      },
    },
    { name: 'unchanged since the copy held', headers: (ctx) => ({ 'if-none-match': ctx.consoleEtag ?? '' }), expect: 304 },
  ],

  getConsoleFile: [
    { name: 'a script', params: { file: 'app.js' }, expect: 200 },
    { name: 'a style sheet', params: { file: 'style.css' }, expect: 200 },
    { name: 'no such file', params: { file: 'no-such-file.js' }, expect: 404 },
  ],
};

/// After the events are posted: wait until every delivery of them is
/// finished (the dead letters and attempt histories the later cases read).
async function settle(ctx) {
  const ids = [ctx.event?.id, ...(ctx.batch ?? []).map((e) => e.id)].filter(Boolean);
  await eventually('the posted events\' deliveries to finish', async () => {
    for (const id of ids) {
      const res = await send({ method: 'GET', path: `/v1/events/${id}`, headers: { authorization: `Bearer ${keys.reader}` } });
      const e = json(res);
      if (res.status !== 200 || !e?.deliveries?.every((d) => d.status !== 'pending')) return false;
    }
    return true;
  });
}

// ------------------------------------------------------- generic checks

/// For every operation: no key and an unknown key get 401, each role the
/// document does not name gets 403, each role it names is let through, a
/// foreign Host gets 421, and a POST without a JSON Content-Type gets 415.
async function genericChecks(ctx) {
  for (const o of ops) {
    const template = fixtures[o.id]?.[0];
    if (!template) continue;
    const base = { ...template, check: undefined, refusedBody: undefined, before: undefined, after: undefined, role: undefined, headers: undefined };
    if (o.secured) {
      await run(o.id, { ...base, name: 'without a key', expect: 401 }, ctx);
      await run(o.id, { ...base, name: 'with an unknown key', key: unknownKey, expect: 401 }, ctx);
      for (const r of roles.filter((r) => !o.roles.includes(r)))
        await run(o.id, { ...base, name: 'a role the document does not name', role: r, expect: 403 }, ctx);
      // Let through: only where it changes nothing (the fixtures cover the rest).
      if (o.method === 'GET')
        for (const r of o.roles) {
          const res = await run(o.id, { ...base, name: 'a role the document names', role: r, expect: undefined }, ctx);
          if (res && (res.status === 401 || res.status === 403)) fail(`${o.id}: the role ${r} is refused with ${res.status}, the document lets it in`);
        }
    }
    await run(o.id, { ...base, name: 'another Host', role: o.roles[0], headers: { host: 'elsewhere.example' }, expect: 421 }, ctx);
    if (o.op.responses?.['415'])
      await run(o.id, { ...base, name: 'without a JSON Content-Type', role: o.roles[0], contentType: null, expect: 415 }, ctx);
  }
}

// --------------------------------------------------------- route coverage

/// The paths src/app/api.cpp's route_name() knows: its fixed paths and path
/// templates (string literals starting with "/"; the "/v1/x/" prefixes it
/// matches on end with "/" and are skipped).
function serverRoutes() {
  const src = readFileSync(join(sourceDir, 'src', 'app', 'api.cpp'), 'utf8');
  const start = src.indexOf('std::string route_name(');
  const end = src.indexOf('\n}\n', start);
  if (start < 0 || end < 0) throw new Error('route_name() not found in src/app/api.cpp');
  return [...new Set([...src.slice(start, end).matchAll(/"(\/[^"]*)"/g)].map((m) => m[1]).filter((p) => !p.endsWith('/')))];
}

// Documented paths that route_name() labels with another path.
const routeLabels = { '/ui/{file}': '/ui' }; // every console file is "/ui"

async function routeCoverage(ctx) {
  let routes;
  try {
    routes = serverRoutes();
  } catch (err) {
    return fail(err.message);
  }
  if (routes.length < 10) return fail(`read only ${routes.length} routes from route_name() in src/app/api.cpp: ${routes.join(' ')}`);
  const documented = new Set(Object.keys(doc.paths));
  for (const r of routes) if (!documented.has(r)) fail(`the server routes ${r} (src/app/api.cpp route_name) but the document has no such path`);
  for (const p of documented)
    if (!routes.includes(routeLabels[p] ?? p)) fail(`the document describes ${p} but route_name() in src/app/api.cpp does not know it`);

  // Every other method on a documented path must be 405 with an Allow header
  // naming exactly the documented methods: anything else is an operation the
  // document lacks.
  const errorSchema = { $ref: '#/components/schemas/Error' };
  for (const p of documented) {
    const onPath = ops.filter((o) => o.path === p);
    const served = onPath.map((o) => o.method).sort();
    // The path as the first fixture of an operation on it fills it in.
    const path = requestFor(onPath[0], { ...fixtures[onPath[0].id]?.[0], query: undefined }, ctx).path;
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      if (served.includes(method)) continue;
      const label = `${method} ${p}`;
      let res;
      try {
        res = await send({ method, path, headers: { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' } });
      } catch (err) {
        fail(`${label}: no answer: ${err.message}`);
        continue;
      }
      checked++;
      if (res.status !== 405) {
        fail(`${label}: answered ${res.status}, so the server serves it, but the document has no such operation: ${excerpt(res.text)}`);
        continue;
      }
      const allow = (res.headers.allow ?? '').split(',').map((m) => m.trim()).filter(Boolean).sort();
      if (allow.join() !== served.join()) fail(`${label}: 405 with Allow "${res.headers.allow}", the document has ${served.join(', ')}`);
      const validate = validators.compile(errorSchema, 'Error');
      if (!validate(json(res))) fail(`${label}: 405 body is not the error object: ${excerpt(res.text)}`);
    }
  }
  // An unknown path: 404, as the error object.
  const res = await send({ method: 'GET', path: '/v1/no-such-path', headers: { authorization: `Bearer ${keys.admin}` } });
  checked++;
  if (res.status !== 404 || !validators.compile(errorSchema, 'Error')(json(res)))
    fail(`GET /v1/no-such-path: expected 404 with the error object, got ${res.status}: ${excerpt(res.text)}`);
}

// ------------------------------------------------------------------- main

async function main() {
  // Fixtures and document name the same operations.
  for (const o of ops) if (!fixtures[o.id]) fail(`operation ${o.id} (${o.method} ${o.path}) has no fixture in conformance.mjs`);
  for (const id of Object.keys(fixtures)) if (!opsById.has(id)) fail(`fixture ${id} names no operation of the document`);

  sinkServer = await startFakeSink();
  port = await freePort();
  const ctx = { idem: `idem-${randomBytes(8).toString('hex')}`, batchIdem: `batch-${randomBytes(8).toString('hex')}` };
  ctx.config = configText(sinkServer.address().port);
  writeFileSync(configPath, ctx.config, { mode: 0o600 });

  psql(adminUrl, `CREATE DATABASE ${dbName}`);
  dbCreated = true;
  execFileSync(binary, ['migrate', '--config', configPath, '--database-url', dbUrl], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });

  const logFd = openSync(logPath, 'w');
  server = spawn(binary, ['serve', '--config', configPath, '--database-url', dbUrl, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  let exited = null;
  server.on('exit', (code, signal) => (exited = signal ?? code));
  const up = await eventually('txrelay serve to answer /healthz', async () => {
    if (exited !== null) return true;
    try {
      return (await send({ method: 'GET', path: '/healthz' })).status === 200;
    } catch {
      return false;
    }
  });
  if (!up || exited !== null) throw new Error(`txrelay serve did not come up (exit: ${exited}); its log:\n${logTail()}`);

  for (const [id, cases] of Object.entries(fixtures)) {
    if (!opsById.has(id)) continue;
    for (const c of cases) {
      try {
        await c.before?.(ctx);
        await run(id, c, ctx);
      } finally {
        await c.after?.(ctx);
      }
    }
  }
  await genericChecks(ctx);
  await routeCoverage(ctx);
  if (exited !== null) fail(`txrelay serve exited during the run (${exited}); its log:\n${logTail()}`);

  for (const o of ops) {
    const missing = Object.keys(o.op.responses ?? {}).filter((s) => !exercised.get(o.id).has(s));
    if (missing.length) console.log(`note: ${o.id}: documented but not provoked here: ${missing.join(', ')}`);
  }
}

let cleaned = false;
async function cleanUp() {
  if (cleaned) return;
  cleaned = true;
  if (server && server.exitCode === null && server.signalCode === null) {
    // A graceful stop exits 0; anything else (a crash, a sanitizer's report
    // at exit in the ASan build) is a finding too.
    const gone = new Promise((r) => server.once('exit', (code, signal) => r(signal ?? code)));
    server.kill('SIGTERM');
    const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
    const status = await gone;
    clearTimeout(timer);
    if (status !== 0) fail(`txrelay serve did not stop cleanly on SIGTERM (${status}); its log:\n${logTail(60)}`);
  }
  sinkServer?.closeAllConnections?.();
  sinkServer?.close();
  if (dbCreated) {
    try {
      psql(adminUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    } catch (err) {
      console.error(`openapi_conformance: could not drop database ${dbName}: ${err.stderr ?? err.message}`);
    }
  }
  rmSync(workDir, { recursive: true, force: true });
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]])
  process.on(signal, () => cleanUp().finally(() => process.exit(code)));
// Well inside ctest's --timeout, so the clean-up still runs.
const deadline = setTimeout(() => {
  fail('the run took longer than 200 s');
  cleanUp().finally(() => process.exit(1));
}, 200_000);

try {
  await main();
} catch (err) {
  fail(`${err.message}${err.stderr ? `\n${err.stderr}` : ''}`);
} finally {
  await cleanUp();
  clearTimeout(deadline);
}
const summary = `openapi_conformance: ${checked} answers checked against ${ops.length} documented operations, ${failures.length} mismatches`;
if (failures.length) {
  console.error(summary);
  process.exit(1);
}
console.log(summary);
