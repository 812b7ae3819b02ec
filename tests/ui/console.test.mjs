// End-to-end test of the web console (/ui) in Debian's headless Chromium,
// driven by Playwright (which never downloads a browser of its own here):
//   node tests/ui/console.test.mjs <path to the txrelay binary>
// Needs TXRELAY_TEST_DATABASE_URL (a PostgreSQL server where it may create a
// database; without it the test is skipped) and psql. It runs its own
// txrelay with admin, reader and producer keys and a webhook sink pointing
// at a fake sink on loopback that answers 500 until the test switches it to 200. Screenshots of each page go to
// UI_SCREENSHOT_DIR (default: ui-screenshots beside the binary).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright';

const binary = process.argv[2];
if (!binary || !fs.existsSync(binary)) throw new Error('usage: node console.test.mjs <txrelay binary>');
const adminDatabaseUrl = process.env.TXRELAY_TEST_DATABASE_URL;
if (!adminDatabaseUrl) {
  // Skipped, as the other pg tests are (ctest: SKIP_RETURN_CODE 77).
  console.log('skipped: TXRELAY_TEST_DATABASE_URL is not set (scripts/test.sh sets it)');
  process.exit(77);
}
const screenshots = process.env.UI_SCREENSHOT_DIR || path.join(path.dirname(path.resolve(binary)), 'ui-screenshots');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const newKey = () => randomBytes(16).toString('hex');
const keys = { admin: newKey(), reader: newKey(), producer: newKey() };
const SINK = 'orders-hook';
const SINK_ERROR_BODY = 'order service unavailable: maintenance until 14:00 (ref 7731)';

/** Polls `probe` until it returns something truthy; fails after `ms` saying what it waited for. */
async function eventually(what, probe, ms = 20000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- the fake sink: 500 with a body until switched to 200 ----------------------

const sink = { healthy: false, requests: [], server: null, port: 0 };

function startFakeSink() {
  sink.server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      sink.requests.push({ path: req.url, body, answered: sink.healthy ? 200 : 500 });
      res.writeHead(sink.healthy ? 200 : 500, { 'Content-Type': 'text/plain' });
      res.end(sink.healthy ? 'ok' : SINK_ERROR_BODY);
    });
  });
  return new Promise((resolve) =>
    sink.server.listen(0, '127.0.0.1', () => {
      sink.port = sink.server.address().port;
      resolve();
    }));
}

// ---- txrelay with its own database -------------------------------------------------

const run = { dir: null, database: null, databaseUrl: null, proc: null, output: [], base: null };

function psql(sql) {
  execFileSync('psql', [adminDatabaseUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The admin URL naming another database (URL or key=value form). */
function withDatabase(url, name) {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const u = new URL(url);
    u.pathname = '/' + name;
    return u.toString();
  }
  return `${url} dbname=${name}`;
}

function writeConfig() {
  const config = `
auth:
  keys:
    - {name: ops, role: admin, key: "${keys.admin}"}
    - {name: dashboards, role: reader, key: "${keys.reader}"}
    - {name: orders-service, role: producer, key: "${keys.producer}"}
sinks:
  - name: audit-log
    kind: log
  - name: ${SINK}
    kind: webhook
    url: "http://127.0.0.1:${sink.port}/hooks/orders"
    timeout: 2s
    retry: {max_attempts: 3, base: 10ms, cap: 50ms}
routes:
  - topic: orders
    sinks: [audit-log, ${SINK}]
  - topic: audit
    sinks: [audit-log]
`;
  const file = path.join(run.dir, 'txrelay.yaml');
  fs.writeFileSync(file, config);
  return file;
}

async function startTxrelay() {
  run.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txrelay-ui-'));
  run.database = 'txrelay_ui_' + randomBytes(6).toString('hex');
  psql(`CREATE DATABASE ${run.database}`);
  run.databaseUrl = withDatabase(adminDatabaseUrl, run.database);
  const config = writeConfig();
  execFileSync(binary, ['migrate', '--config', config, '--database-url', run.databaseUrl], { stdio: 'pipe' });
  run.proc = spawn(binary, ['serve', '--config', config, '--listen', '127.0.0.1:0', '--database-url', run.databaseUrl]);
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('txrelay did not start:\n' + run.output.join(''))), 30000);
    const read = (chunk) => {
      run.output.push(chunk.toString());
      const m = /listening on port (\d+)/.exec(run.output.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    run.proc.stdout.on('data', read);
    run.proc.stderr.on('data', read);
    run.proc.on('exit', (code) => reject(new Error(`txrelay exited (${code}):\n${run.output.join('')}`)));
  });
  run.base = `http://127.0.0.1:${port}`;
}

async function call(method, urlPath, { key, body, headers = {} } = {}) {
  const res = await fetch(run.base + urlPath, {
    method,
    headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

const deliveryTo = async (eventId, sinkName) =>
  (await call('GET', `/v1/events/${eventId}`, { key: keys.admin })).json().deliveries.find((d) => d.sink === sinkName);

// ---- the browser -------------------------------------------------------------------------

let browser;
let eventId;

/** A fresh page (its own sessionStorage) that records CSP violations and script errors. */
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) page.problems.push(msg.text());
  });
  page.on('pageerror', (err) => page.problems.push(`script error: ${err.message}`));
  page.on('requestfailed', (req) => {
    // A poll cut short by a navigation is aborted, not failed.
    if (req.failure()?.errorText !== 'net::ERR_ABORTED') page.problems.push(`request failed: ${req.url()}`);
  });
  page.on('request', (req) => {
    if (!req.url().startsWith(run.base) && !req.url().startsWith('data:')) page.problems.push(`request to another origin: ${req.url()}`);
  });
  return page;
}

async function signIn(page, key) {
  await page.goto(`${run.base}/ui/`);
  await page.fill('#api-key', key);
  await page.click('#signin-form button[type=submit]');
}

const shot = (page, name) => page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });

before(async () => {
  fs.mkdirSync(screenshots, { recursive: true });
  await startFakeSink();
  await startTxrelay();
  const posted = await call('POST', '/v1/events', {
    key: keys.producer,
    body: { topic: 'orders', key: 'order-1001', payload: { order_id: 1001, total: '12.50', note: '<img src=x onerror=alert(1)>' } },
  });
  assert.equal(posted.status, 201, posted.text);
  eventId = posted.json().id;
  // Three attempts, each answered 500: the delivery dies within a second.
  await eventually('the webhook delivery to die', async () => (await deliveryTo(eventId, SINK))?.status === 'dead');
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  if (run.proc && run.proc.exitCode === null) {
    const exited = new Promise((resolve) => run.proc.on('exit', resolve));
    run.proc.kill('SIGTERM');
    await exited;
  }
  sink.server?.close();
  if (run.database) psql(`DROP DATABASE IF EXISTS ${run.database} WITH (FORCE)`);
  if (run.dir) fs.rmSync(run.dir, { recursive: true, force: true });
});

test('the binary serves the console: types, no-cache, a strict CSP, one metrics label, 405 for other methods', async () => {
  const index = await call('GET', '/ui');
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /^text\/html/);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  const csp = index.headers.get('content-security-policy');
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.equal((await call('GET', '/ui/')).text, index.text);
  // Everything the page loads comes from /ui/ on this server, and no script is inline.
  for (const [, ref] of index.text.matchAll(/(?:src|href)="([^"]*)"/g)) assert.match(ref, /^(\/ui\/|#\/|data:)/, ref);
  assert.doesNotMatch(index.text, /<script(?![^>]*\bsrc=)[^>]*>/);
  for (const [file, type] of [['app.js', /^text\/javascript/], ['style.css', /^text\/css/],
    ['uPlot.iife.min.js', /^text\/javascript/], ['uPlot.min.css', /^text\/css/]]) {
    const res = await call('GET', `/ui/${file}`);
    assert.equal(res.status, 200, file);
    assert.match(res.headers.get('content-type'), type, file);
    assert.ok(res.headers.get('content-security-policy'), file);
  }
  const etag = (await call('GET', '/ui/app.js')).headers.get('etag');
  assert.equal((await call('GET', '/ui/app.js', { headers: { 'If-None-Match': etag } })).status, 304);
  assert.equal((await call('GET', '/ui/no-such-file-a')).status, 404);
  assert.equal((await call('GET', '/ui/no-such-file-b')).status, 404);
  const put = await call('PUT', '/ui/app.js', { key: keys.admin });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get('allow'), 'GET');
  // Made-up paths do not make series: every /ui request is counted as GET /ui.
  const metrics = (await call('GET', '/metrics', { key: keys.reader })).text;
  assert.match(metrics, /txrelay_http_requests_total\{route="GET \/ui",status="404"\} 2/);
  assert.doesNotMatch(metrics, /no-such-file/);
});

test('a wrong key gets the sign-in error; a producer key is turned away', async () => {
  const page = await newPage();
  await signIn(page, 'not-a-key-of-this-server');
  await page.locator('#signin-error').waitFor();
  assert.match(await page.textContent('#signin-error'), /not accepted/);
  assert.equal(await page.isVisible('#bar'), false);
  await shot(page, '01-sign-in-wrong-key');
  await signIn(page, keys.producer);
  await page.getByText('A producer key cannot use the console').waitFor();
  assert.deepEqual(page.problems, []);
});

test('a reader sees the failing sink and its dead letter, with no action it may take', async () => {
  const page = await newPage();
  await signIn(page, keys.reader);
  await page.locator('#who', { hasText: 'reader' }).waitFor();
  await page.goto(`${run.base}/ui/#/sinks`);
  await page.locator(`[data-sink="${SINK}"] .last-error`).waitFor();
  await page.goto(`${run.base}/ui/#/dead`);
  await page.locator(`[data-sink="${SINK}"] tr a`, { hasText: eventId }).waitFor();
  await page.goto(`${run.base}/ui/#/events/${eventId}`);
  await page.locator(`.delivery[data-status="dead"]`).waitFor();
  for (const [hash, name] of [['#/sinks', 'sinks'], ['#/dead', 'dead-letters'], [`#/events/${eventId}`, 'event']]) {
    await page.goto(`${run.base}/ui/${hash}`);
    await page.locator('button.action').first().waitFor();
    assert.equal(await page.locator('button.action:enabled').count(), 0, `an enabled action on ${hash}`);
    await shot(page, `02-reader-${name}`);
  }
  assert.deepEqual(page.problems, []);
});

test('an admin follows the failing sink to its delivery, replays it and sees it delivered', async () => {
  const page = await newPage();
  await signIn(page, keys.admin);
  await page.locator('#who', { hasText: 'admin' }).waitFor();

  // Overview: four charts drawn by uPlot, redrawn as samples arrive; traffic
  // between two samples shows up (as throughput, and in the table).
  const samples = (n) => page.waitForFunction((n) => Number(document.querySelector('.live')?.dataset.samples) >= n, n);
  await samples(1);
  const batch = await call('POST', '/v1/events:batch', {
    key: keys.producer,
    body: { events: Array.from({ length: 40 }, (_, i) => ({ topic: 'audit', payload: { n: i } })) },
  });
  assert.equal(batch.status, 201, batch.text);
  await page.locator('table.grid tr', { hasText: 'audit-log' }).locator('td:nth-child(5)', { hasText: '41' }).waitFor();
  await samples(4);
  assert.equal(await page.locator('.chart canvas').count(), 4);
  await page.locator('table.grid tr', { hasText: SINK }).locator('td', { hasText: 'HTTP 500' }).waitFor();
  await shot(page, '03-overview');

  // Sinks: the failing sink's error; a dismissed confirmation does nothing.
  await page.click('nav a[data-page=sinks]');
  const card = page.locator(`.sink[data-sink="${SINK}"]`);
  await card.locator('.last-error', { hasText: '500' }).waitFor();
  page.once('dialog', (dialog) => dialog.dismiss());
  await card.getByRole('button', { name: 'Pause' }).click();
  assert.equal((await call('GET', '/v1/sinks', { key: keys.admin })).json().sinks.find((s) => s.name === SINK).paused, false);
  await shot(page, '04-sinks');

  // Dead letters: the delivery is listed.
  await page.click('nav a[data-page=dead]');
  await page.locator(`[data-sink="${SINK}"] tr`, { hasText: eventId }).waitFor();
  await shot(page, '05-dead-letters');

  // Events: the search finds it among the dead.
  await page.click('nav a[data-page=events]');
  await page.selectOption('#q-status', 'dead');
  await page.click('form.search button[type=submit]');
  await page.locator('.results tr', { hasText: eventId }).waitFor();
  await shot(page, '06-events');

  // Event detail: each attempt, with the sink's answer.
  await page.locator('.results a', { hasText: eventId }).click();
  const delivery = page.locator(`.delivery[data-status="dead"]`, { hasText: SINK });
  await delivery.waitFor();
  assert.equal(await delivery.locator('table.attempts tbody tr').count(), 3);
  await delivery.locator('pre.excerpt', { hasText: SINK_ERROR_BODY }).first().waitFor();
  // The payload's markup is shown as text, never run.
  await page.locator('pre.payload', { hasText: '<img src=x onerror=alert(1)>' }).waitFor();
  await shot(page, '07-event-dead');

  // The sink is back: replay from the console, confirming the dialog.
  sink.healthy = true;
  let question = '';
  page.once('dialog', (dialog) => {
    question = dialog.message();
    return dialog.accept();
  });
  await page.getByRole('button', { name: /^Replay 1 dead$/ }).click();
  await page.locator('#notice', { hasText: 'Replayed 1 dead delivery' }).waitFor();
  assert.match(question, /Replay this event's 1 dead delivery/);
  await page.locator(`.delivery[data-status="delivered"]`, { hasText: SINK }).waitFor({ timeout: 20000 });
  assert.ok(sink.requests.some((r) => r.answered === 200), 'the sink got the replayed delivery');
  assert.equal((await deliveryTo(eventId, SINK)).status, 'delivered');
  await shot(page, '08-event-delivered');
  assert.deepEqual(page.problems, []);
});
