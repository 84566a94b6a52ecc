// Real-browser end-to-end test: the local gateway (`livechat dev`), Debian's Chromium
// driven by playwright-core, the widget on the demo page and two Agent Inbox pages
// (ana and ben; cleo, the third demo agent, stays signed out so she is never eligible).
//
// The main scenario walks the demo dialog (examples/sales-dialog.yaml) to a live chat,
// checks round robin between the two agents, typing indicators and messages both
// ways, an XSS message shown literally in both UIs, a reload and a dropped connection
// that resume with history (nothing lost, nothing twice), the transcript download,
// the request that nobody takes (fallback, then the missed list's Pick up), both
// agents away, the host-page `livechat:event`s and keyboard-only use of the widget on
// a phone-sized page. The Analytics scenario drives one chat to ana (her Live tab
// listing the visitor while they wait), then checks a
// chart bar of her Analytics page against its table cell and the downloaded CSV, and
// that mia (a Marketing Admin) signs in to the funnel only. The live queue scenario
// runs its own gateway (queue-config.yaml: one chat per agent, a queue): a visitor
// queued at number 2 moves to 1 and is offered as chats end. Two smaller tests cover
// cards the demo dialog does not have
// (picklist, phone) on a scripted socket, and the heartbeat and the renewal before the
// 2-hour limit on a fake page clock; one the demo's two targeted dialogs (the pricing
// page's time-on-page trigger on a fake clock, its teaser, a completed dialog).
//
// Run: tests/browser/run.sh (installs and builds what is missing), or, with the
// gateway built and node_modules installed, `node --test tests/browser/`.
// LIVECHAT_BIN overrides the gateway binary, CHROMIUM_PATH the browser,
// LIVECHAT_SHOTS_DIR the screenshot folder (docs/screenshots); LIVECHAT_E2E_VERBOSE=1
// prints the WebSocket frames and console of every page even when the test passes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { parseCsv } from '../../web/inbox/analytics.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const BIN = process.env.LIVECHAT_BIN
  || join(process.env.CARGO_TARGET_DIR ? resolve(REPO, process.env.CARGO_TARGET_DIR) : join(REPO, 'target'), 'debug', 'livechat');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required', // the offer's sound plays without a click first
];
const TIMEOUT = 10_000;
const SHOTS = process.env.LIVECHAT_SHOTS_DIR || join(REPO, 'docs', 'screenshots');
const FAILURES = tmpdir();

const XSS = '<img src=x onerror=alert(1)>';
const BAD_EMAIL = 'maria-at-example';
const EMAIL_ERROR = 'enter an email address like name@example.com';
const LINK = 'https://example.com/pricing?plan=pro';

// ---- the gateway -------------------------------------------------------------

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/**
 * Starts `livechat dev` (with `env` added to its environment, e.g. a DIRECTORY_PATH)
 * and resolves once every demo agent's inbox URL is printed.
 */
async function startGateway(env = {}) {
  assert.ok(existsSync(BIN), `gateway binary ${BIN} is missing: run \`cargo build -p livechat-cli\` (or tests/browser/run.sh)`);
  const port = await freePort();
  const child = spawn(BIN, ['dev', '--listen', `127.0.0.1:${port}`], {
    cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', ...env },
  });
  const gw = { child, port, base: null, inbox: {}, stdout: '', stderr: '' };
  child.stderr.setEncoding('utf8').on('data', (d) => { gw.stderr = (gw.stderr + d).slice(-200_000); });
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`gateway printed no inbox URLs in ${TIMEOUT} ms:\n${gw.stdout}\n${gw.stderr}`)), TIMEOUT);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`gateway exited (${code ?? signal}) before it was ready:\n${gw.stdout}\n${gw.stderr}`));
    });
    child.stdout.setEncoding('utf8').on('data', (d) => {
      gw.stdout += d;
      const base = /^livechat local gateway on (http:\/\/\S+)$/m.exec(gw.stdout);
      if (base) gw.base = base[1];
      for (const m of gw.stdout.matchAll(/^\s+(\w+)\s+(http:\/\/\S+\/inbox\/#token=\S+)\s*$/gm)) gw.inbox[m[1]] = m[2];
      if (gw.base && ['ana', 'ben', 'cleo', 'mia'].every((a) => gw.inbox[a])) {
        clearTimeout(timer);
        ok();
      }
    });
  });
  return gw;
}

async function stopGateway(gw) {
  const { child } = gw;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

// ---- browser helpers -----------------------------------------------------------

/** Records console errors, page errors and WebSocket frames, printed on failure. */
function watch(page, name, log) {
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log.push(`[${name}] console.${m.type()}: ${m.text()} (${m.location().url || '?'})`); });
  page.on('pageerror', (e) => log.push(`[${name}] page error: ${e.message}`));
  page.on('response', (r) => { if (r.status() >= 400) log.push(`[${name}] HTTP ${r.status()} ${r.request().method()} ${r.url().replace(/token=[^&]+/, 'token=…')}`); });
  page.on('websocket', (ws) => {
    log.push(`[${name}] websocket ${ws.url().replace(/token=[^&]+/, 'token=…')}`);
    ws.on('framesent', (f) => log.push(`[${name}] -> ${f.payload}`));
    ws.on('framereceived', (f) => log.push(`[${name}] <- ${f.payload}`));
    ws.on('close', () => log.push(`[${name}] websocket closed`));
  });
}

/** Waits until some element of `loc` contains `text`; returns that element's locator. */
async function shows(loc, text) {
  const hit = loc.filter({ hasText: text }).first();
  await hit.waitFor({ state: 'visible', timeout: TIMEOUT });
  return hit;
}

function jwtSubject(token) {
  return JSON.parse(Buffer.from(String(token).split('.')[1], 'base64url').toString('utf8')).sub;
}

/** How far the page is wider than its screen, in CSS pixels (0 when it fits). */
function pageOverflow(page) {
  return page.evaluate(() => ({ x: Math.max(0, document.documentElement.scrollWidth - window.visualViewport.width) }));
}

/**
 * Asserts what a visitor on a phone needs of the open panel: it covers the screen
 * (the visual viewport: what is shown, whatever the layout viewport is), and its
 * header and Send button lie inside it. Boxes are in the page's client coordinates,
 * so the screen is the visual viewport's rectangle in them.
 */
async function fitsScreen(page) {
  const geo = await page.evaluate(() => {
    const s = document.querySelector('#lc-livechat-host').shadowRoot;
    const box = (q) => { const r = s.querySelector(q).getBoundingClientRect(); return { l: r.left, t: r.top, r: r.right, b: r.bottom }; };
    const vv = window.visualViewport;
    return { screen: { l: vv.offsetLeft, t: vv.offsetTop, r: vv.offsetLeft + vv.width, b: vv.offsetTop + vv.height },
      panel: box('.lc-panel'), head: box('.lc-head'), send: box('.lc-compose button') };
  });
  const inside = (b, what) => {
    const { screen: v } = geo;
    assert.ok(b.l >= v.l - 1 && b.t >= v.t - 1 && b.r <= v.r + 1 && b.b <= v.b + 1,
      `${what} lies inside the screen: ${JSON.stringify(b)} in ${JSON.stringify(v)}`);
  };
  inside(geo.panel, 'the panel');
  inside(geo.head, 'the header');
  inside(geo.send, 'the Send button');
  const { screen: v, panel: p } = geo;
  assert.ok(Math.abs(p.r - p.l - (v.r - v.l)) <= 1 && Math.abs(p.b - p.t - (v.b - v.t)) <= 1,
    `the panel covers the whole screen: ${JSON.stringify(p)} for ${JSON.stringify(v)}`);
}

async function gone(loc) {
  await loc.first().waitFor({ state: 'detached', timeout: TIMEOUT });
}

/** Waits until `loc` has no element; fails after TIMEOUT. */
async function hidden(loc) {
  await loc.first().waitFor({ state: 'hidden', timeout: TIMEOUT });
}

/** Polls a condition the test process sees (frames recorded from events) until it holds. */
async function eventually(check, what) {
  const deadline = Date.now() + TIMEOUT;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 25));
  }
}

/** The name of whichever of `named` promises settles first with a value. */
function firstOf(named) {
  return Promise.any(Object.entries(named).map(([name, p]) => p.then(() => name)));
}

/**
 * Page-side probes, installed before the page's own scripts: the host-page events
 * (kept in sessionStorage, so they survive a reload), browser notifications and the
 * offer sound's oscillators.
 */
function probes() {
  window.addEventListener('livechat:event', (e) => {
    const list = JSON.parse(sessionStorage.getItem('test:events') || '[]');
    list.push(e.detail.name);
    sessionStorage.setItem('test:events', JSON.stringify(list));
  });
  window.__notes = [];
  const Real = window.Notification;
  if (Real) {
    const Probe = function Notification(title, options) {
      window.__notes.push({ title, body: options && options.body });
      try {
        return new Real(title, options);
      } catch {
        return { close() {} };
      }
    };
    Object.defineProperty(Probe, 'permission', { get: () => Real.permission });
    Probe.requestPermission = (...args) => Real.requestPermission(...args);
    window.Notification = Probe;
  }
  window.__beeps = 0;
  if (window.AudioContext) {
    const createOscillator = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function counted() {
      window.__beeps += 1;
      return createOscillator.call(this);
    };
  }
}

/** Waits until the element focused inside the widget's shadow root matches `selector`. */
async function focusOn(page, selector) {
  await page.waitForFunction((sel) => {
    const a = document.querySelector('#lc-livechat-host')?.shadowRoot?.activeElement;
    return Boolean(a && a.matches(sel));
  }, selector, { timeout: TIMEOUT });
}

/** The widget on a visitor page. */
function widgetOf(page) {
  const panel = page.locator('.lc-panel');
  const stream = panel.locator('.lc-stream');
  return {
    page,
    panel,
    stream,
    bubble: page.locator('.lc-bubble'),
    cards: stream.locator('.lc-card'),
    card: (text) => shows(stream.locator('.lc-card'), text),
    composer: panel.locator('.lc-compose textarea'),
    events: () => page.evaluate(() => JSON.parse(sessionStorage.getItem('test:events') || '[]')),
  };
}

/** An Agent Inbox page. */
function inboxOf(page, id, name) {
  return {
    page,
    id,
    name,
    offers: page.locator('#ib-offers .ib-offer'),
    transcript: page.locator('#ib-transcript'),
    input: page.locator('#ib-input'),
    active: page.locator('#ib-active li'),
    past: page.locator('#ib-past li'),
    missed: page.locator('#ib-missed li'),
  };
}

/** Sends `text` from the inbox's composer with Enter and waits until it is stored. */
async function agentSays(agent, text) {
  await agent.input.fill(text);
  await agent.input.press('Enter');
  const mine = await shows(agent.transcript.locator('.ib-msg-me'), text);
  await mine.and(agent.page.locator(':not(.ib-msg-pending)')).waitFor();
}

/** Sends `text` from the widget's composer with Enter and waits until it is stored. */
async function visitorSays(w, text) {
  await w.composer.fill(text);
  await w.composer.press('Enter');
  assert.equal(await w.composer.inputValue(), '', 'Enter sends and clears the box');
  const mine = await shows(w.stream.locator('.lc-msg-me'), text);
  await mine.and(w.page.locator(':not(.lc-msg-pending)')).waitFor();
}

/** Flips the inbox's availability toggle and waits for the server's answer. */
async function setAvailable(agent, available) {
  const box = agent.page.locator('#ib-avail');
  if ((await box.isChecked()) !== available) await box.click();
  await agent.page.locator(`#ib-avail${available ? ':checked' : ':not(:checked)'}`).waitFor();
  assert.equal(await agent.page.locator('#ib-avail-text').textContent(), available ? 'Available' : 'Unavailable');
}

/**
 * Routes a context's widget sockets through the test: `hold(frame)` keeps a server
 * frame from the page, `refuse` closes new connections at once, `routes` are the
 * live ones (close one to cut the visitor's network).
 */
async function proxySockets(ctx) {
  const ctl = { hold: () => false, refuse: false, refused: 0, routes: [] };
  await ctx.routeWebSocket((url) => url.pathname === '/ws', (ws) => {
    if (ctl.refuse) {
      ctl.refused += 1;
      ws.close({ code: 4001, reason: 'refused by the test' });
      return;
    }
    const server = ws.connectToServer();
    server.onMessage((m) => {
      if (!ctl.hold(JSON.parse(String(m)))) ws.send(m);
    });
    ctl.routes.push({ ws, server });
  });
  return ctl;
}

// ---- the tests -----------------------------------------------------------------

let gw;
let browser;
const log = [];
const alerts = [];
const contexts = [];
const pages = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (or run tests/browser/run.sh)`);
  mkdirSync(SHOTS, { recursive: true });
  gw = await startGateway();
  // Playwright gives every launch a fresh temporary --user-data-dir (under the OS
  // temp folder) and removes it on close; it refuses --user-data-dir in args.
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000,
  });
  // Layout differs between Chromium versions and fonts: say which one this run used.
  console.log(`browser: Chromium ${browser.version()} (${CHROMIUM})`);
});

after(async () => {
  for (const ctx of contexts) await ctx.close().catch(() => {});
  await browser?.close().catch(() => {});
  if (gw) await stopGateway(gw);
});

async function newContext(options = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  ctx.setDefaultTimeout(TIMEOUT);
  await ctx.addInitScript(probes);
  contexts.push(ctx);
  return ctx;
}

async function newPage(ctx, name) {
  const page = await ctx.newPage();
  watch(page, name, log);
  page.on('dialog', (d) => {
    if (d.type() === 'confirm') return d.accept(); // "End this chat for the visitor?"
    alerts.push(`[${name}] ${d.type()}: ${d.message()}`); // an alert() would be an XSS that ran
    return d.dismiss();
  });
  pages.push({ name, page });
  return page;
}

/** Runs `fn` as subtests named by `step(name, fn)`; after a failure the rest are skipped. */
function stepper(t) {
  let failed = false;
  const step = (name, fn) => t.test(name, { skip: failed && 'an earlier step failed' }, async () => {
    try {
      await fn();
    } catch (e) {
      if (!failed) {
        for (const p of pages) await p.page.screenshot({ path: join(FAILURES, `livechat-failure-${p.name}.png`) }).catch(() => {});
        t.diagnostic(`screenshots of the failure: ${join(FAILURES, 'livechat-failure-*.png')}`);
      }
      failed = true;
      throw e;
    }
  });
  return { step, failed: () => failed };
}

function dumpLogs(t, failed) {
  if (failed || process.env.LIVECHAT_E2E_VERBOSE) {
    console.error(`---- browser log (${log.length} lines) ----\n${log.join('\n')}`);
    console.error(`---- gateway stderr (end) ----\n${gw.stderr.slice(-8000)}`);
  }
}

const AGENT_NAMES = { ana: 'Ana Lima', ben: 'Ben Okafor' };

test('two agents and four visitors: the demo dialog, round robin, chat, reload, reconnect, transcript, fallback, missed list, keyboard', async (t) => {
  const { step, failed } = stepper(t);
  const agents = {};
  let first; // the agent round robin picks for the first visitor
  let second; // the other one
  const maria = { name: 'Maria', email: 'maria@example.com' };
  const noor = { name: 'Noor', email: 'noor@example.com' };
  const xss = { name: XSS, email: 'sam@example.com' };
  const omar = { name: 'Omar', email: 'omar@example.com' };
  const MARIA_TEXT = `Hi! I saw ${LINK} and ${XSS} <b>bold</b> claims`;
  const AGENT_TEXT = 'Happy to help, Maria. The plans are at www.acme-analytics.example/plans <script>alert(2)</script>';

  const v1Ctx = await newContext();
  const net = await proxySockets(v1Ctx);
  const v1 = widgetOf(await newPage(v1Ctx, 'maria'));
  const v2 = widgetOf(await newPage(await newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true }), 'noor'));
  const v3 = widgetOf(await newPage(await newContext(), 'sam'));
  const v4 = widgetOf(await newPage(await newContext(), 'omar'));

  /** Walks the demo dialog with the mouse up to the live chat (or the dialog's end). */
  async function walkDialog(w, who, { badEmail = false } = {}) {
    await w.page.goto(`${gw.base}/`);
    await w.page.waitForFunction(() => Boolean(window.LiveChat));
    await w.bubble.click();
    await w.panel.waitFor();
    await w.card('Hi there! Thanks for taking a look at our pricing.');
    const ask = await w.card('Would you like to talk to someone from sales?');
    await ask.getByRole('button', { name: 'No thanks', exact: true }).waitFor();
    await ask.getByRole('button', { name: 'Yes', exact: true }).click();
    await ask.locator('.lc-btn-chosen', { hasText: 'Yes' }).waitFor();
    const first = await w.card("What's your first name?");
    const input = first.locator('input.lc-input');
    assert.equal(await input.getAttribute('placeholder'), 'First name');
    await input.fill(who.name);
    await first.getByRole('button', { name: 'Send' }).click();
    const emailCard = () => w.stream.locator('.lc-card').filter({ hasText: 'What is your work email' });
    const asked = await shows(emailCard(), `Thanks ${who.name}. What is your work email`);
    if (badEmail) {
      await asked.locator('input.lc-input[type="email"]').fill(BAD_EMAIL);
      await asked.getByRole('button', { name: 'Send' }).click();
      const error = await shows(emailCard().locator('.lc-error[role="alert"]'), EMAIL_ERROR);
      assert.equal((await error.textContent()).trim(), EMAIL_ERROR);
      const retry = emailCard().locator('input.lc-input');
      await retry.and(w.page.locator(':enabled')).waitFor();
      assert.equal(await retry.inputValue(), BAD_EMAIL, 'the refused value is kept for fixing');
      assert.equal(await retry.getAttribute('aria-invalid'), 'true');
      assert.ok(await retry.getAttribute('aria-describedby'), 'the field names its error');
    }
    await emailCard().locator('input.lc-input').fill(who.email);
    await emailCard().getByRole('button', { name: 'Send' }).click();
    await gone(w.stream.locator('.lc-error'));
  }

  /** Resolves to the agent whose inbox is offered the chat of `who`. */
  async function offeredTo(who) {
    const id = await firstOf(Object.fromEntries(Object.values(agents).map((a) => [a.id, shows(a.offers, who.email)])));
    return agents[id];
  }

  try {
    await step('ana and ben sign in, are available, and are asked to enable notifications', async () => {
      for (const id of ['ana', 'ben']) {
        const ctx = await newContext();
        const agent = inboxOf(await newPage(ctx, id), id, AGENT_NAMES[id]);
        agents[id] = agent;
        const { page } = agent;
        await page.goto(gw.inbox[id]);
        await page.locator('#ib-conn[data-state="open"]').waitFor();
        assert.equal(await page.locator('#ib-conn').textContent(), 'Connected');
        await page.locator('#ib-avail:checked').waitFor();
        assert.equal(await page.locator('#ib-avail-text').textContent(), 'Available');
        await page.locator('#ib-main').waitFor();
        assert.equal(await page.locator('#ib-signin').isHidden(), true, 'the sign-in box is hidden');
        await shows(page.locator('#ib-me'), id);
        assert.ok(!page.url().includes('token='), 'the token is taken out of the address bar');
        // The prompt to enable notifications; the agent says yes.
        const prompt = page.getByRole('button', { name: 'Enable notifications' });
        await prompt.waitFor();
        await ctx.grantPermissions(['notifications'], { origin: gw.base });
        await prompt.click();
        await prompt.waitFor({ state: 'hidden' });
        assert.equal(await page.evaluate(() => Notification.permission), 'granted');
      }
    });

    await step('the first visitor walks the demo dialog: greeting, question, first name, a refused email, then waiting', async () => {
      await walkDialog(v1, maria, { badEmail: true });
      // The demo page styles every button in Comic Sans, upper case: the Shadow DOM
      // keeps that out of the widget, and the widget's styles out of the page.
      const style = (loc) => loc.evaluate((e) => { const c = getComputedStyle(e); return `${c.textTransform} ${c.fontFamily}`; });
      const answer = await style(v1.stream.getByRole('button', { name: 'Yes', exact: true }));
      assert.ok(answer.startsWith('none ') && !answer.includes('Comic'), `widget button: ${answer}`);
      const cta = await style(v1.page.locator('#talk'));
      assert.ok(cta.startsWith('uppercase ') && cta.includes('Comic'), `host page button: ${cta}`);
      assert.equal(await v1.page.locator('.lc-panel').evaluate((e) => e.getRootNode() instanceof ShadowRoot), true);
      const live = await v1.card(`Connecting you with someone from our sales team, ${maria.name}`);
      await shows(live.locator('.lc-waiting'), 'Waiting for an agent');
      await shows(v1.panel.locator('.lc-sub'), 'Connecting you to an agent');
      await v1.panel.getByRole('button', { name: 'End chat' }).waitFor();
      assert.equal(await v1.composer.isDisabled(), true, 'no typing before an agent joins');
      assert.equal(await v1.composer.getAttribute('placeholder'), 'Waiting for an agent…');
    });

    await step('the offer reaches one agent with a banner, a sound, a browser notification and a flashing tab title', async () => {
      first = await offeredTo(maria);
      second = Object.values(agents).find((a) => a !== first);
      t.diagnostic(`round robin: ${maria.name} -> ${first.id}`);
      const offer = await shows(first.offers, maria.name);
      await shows(offer.locator('.ib-offer-who'), maria.email);
      await shows(offer.locator('.ib-offer-count'), /^\d+(s|:\d\d)$/); // the countdown
      assert.equal(await offer.getAttribute('role'), 'alert');
      assert.equal(await second.offers.count(), 0, 'one agent is offered the chat, not both');
      assert.ok(await first.page.evaluate(() => window.__beeps) > 0, 'the offer sound played');
      const notes = await first.page.evaluate(() => window.__notes);
      assert.equal(notes.length, 1, 'one browser notification');
      assert.equal(notes[0].title, 'New chat request');
      assert.ok(notes[0].body.includes(maria.email), notes[0].body);
      // The title alternates between the request and the plain title.
      await first.page.waitForFunction(() => document.title.startsWith('New chat request'));
      await first.page.waitForFunction(() => document.title === 'Agent Inbox');
      await first.page.waitForFunction(() => document.title.startsWith('New chat request'));
    });

    await step('the agent accepts and the widget shows who joined', async () => {
      const offer = first.offers.filter({ hasText: maria.email });
      await offer.getByRole('button', { name: 'Accept' }).click();
      await gone(first.offers);
      await shows(first.active.locator('.ib-name'), maria.name);
      await shows(first.page.locator('#ib-chat-title'), maria.name);
      await shows(first.page.locator('#ib-visitor-fields dd'), maria.email);
      const fields = await first.page.locator('#ib-visitor-fields').evaluate((dl) => Object.fromEntries(
        [...dl.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
      assert.deepEqual(fields, { Name: maria.name, 'Job title': '-', Email: maria.email, Phone: '-', Page: `${gw.base}/` });
      await shows(first.page.locator('#ib-visitor-answers'), 'wants_sales');
      await first.page.waitForFunction(() => !document.title.startsWith('New chat request'));
      await shows(v1.stream.locator('.lc-note'), `${first.name} joined the chat`);
      await shows(v1.panel.locator('.lc-title'), first.name);
      await v1.panel.locator('.lc-compose textarea:enabled').waitFor();
      assert.equal(await v1.stream.locator('.lc-waiting').isHidden(), true, 'the waiting dots are gone');
    });

    await step('round robin: the next visitor, on a phone with the keyboard only, is offered to the other agent', async () => {
      const { page } = v2;
      await page.goto(`${gw.base}/`);
      await page.waitForFunction(() => Boolean(window.LiveChat));
      // Tab from the top of the page to the launcher.
      for (let i = 0; i < 15; i += 1) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(() => document.querySelector('#lc-livechat-host')?.shadowRoot?.activeElement?.matches('.lc-bubble'))) break;
      }
      await focusOn(page, '.lc-bubble');
      assert.equal(await v2.bubble.getAttribute('aria-expanded'), 'false');
      await page.keyboard.press('Enter');
      await v2.panel.waitFor();
      assert.equal(await v2.bubble.getAttribute('aria-expanded'), 'true');
      assert.equal(await v2.panel.getAttribute('role'), 'dialog');
      assert.equal(await v2.stream.getAttribute('role'), 'log');
      const box = await v2.panel.boundingBox();
      assert.equal(Math.round(box.width), 375, 'the panel takes the whole width of a phone');
      assert.deepEqual(await pageOverflow(page), { x: 0 }, 'the demo page fits a 375 px phone');
      await fitsScreen(page);
      // Focus follows the dialog: the first answer, then each field.
      await v2.card('Would you like to talk to someone from sales?');
      await focusOn(page, '.lc-answers button:first-child');
      await page.keyboard.press('Enter');
      await focusOn(page, 'input[placeholder="First name"]');
      await page.keyboard.type(noor.name);
      await page.keyboard.press('Enter');
      await focusOn(page, 'input[type="email"]');
      await page.keyboard.type(noor.email);
      await page.keyboard.press('Enter');
      await v2.card(`Connecting you with someone from our sales team, ${noor.name}`);

      const offer = await shows(second.offers, noor.email);
      assert.equal(await first.offers.count(), 0, `${first.id} is not offered the next chat`);
      t.diagnostic(`round robin: ${noor.name} -> ${second.id}`);
      await offer.getByRole('button', { name: 'Accept' }).click();
      await shows(second.active.locator('.ib-name'), noor.name);
      await shows(v2.stream.locator('.lc-note'), `${second.name} joined the chat`);

      // The composer takes focus when the agent joins; Shift+Enter is a new line.
      await focusOn(page, '.lc-compose textarea:enabled');
      await page.keyboard.type('line one');
      await page.keyboard.press('Shift+Enter');
      await page.keyboard.type('line two');
      assert.equal(await v2.composer.inputValue(), 'line one\nline two');
      await page.keyboard.press('Enter');
      const sent = await shows(second.transcript.locator('.ib-msg'), 'line one');
      assert.ok((await sent.textContent()).includes('line one\nline two'), 'the new line arrives');
      await agentSays(second, 'Hello Noor!');
      await shows(v2.stream.locator('.lc-msg-them'), 'Hello Noor!');
      await page.screenshot({ path: join(SHOTS, 'widget-mobile.png') });

      // Escape closes the panel and gives focus back to the launcher; Enter reopens.
      await page.keyboard.press('Escape');
      await v2.panel.waitFor({ state: 'hidden' });
      await focusOn(page, '.lc-bubble');
      // A reply while the panel is closed shows on the launcher.
      await agentSays(second, 'Are you still there?');
      await shows(v2.bubble.locator('.lc-badge'), '1');
      assert.equal(await v2.bubble.getAttribute('aria-label'), 'Open chat, 1 unread');
      await page.keyboard.press('Enter');
      await hidden(v2.bubble.locator('.lc-badge'));
      await v2.panel.waitFor();
      await focusOn(page, '.lc-compose textarea');
    });

    await step('messages both ways with typing indicators and links; the XSS text is shown literally in both UIs', async () => {
      await v1.composer.click();
      await v1.composer.pressSequentially('Hi');
      await first.page.locator('#ib-typing').waitFor({ state: 'visible' });
      assert.equal(await first.page.locator('#ib-typing').textContent(), 'Visitor is typing…');
      await v1.composer.fill(MARIA_TEXT);
      await v1.composer.press('Enter');
      await shows(v1.stream.locator('.lc-msg-me'), XSS);
      const msg = await shows(first.transcript.locator('.ib-msg'), XSS);
      await hidden(first.page.locator('#ib-typing'));
      assert.equal(await msg.getAttribute('class'), 'ib-msg', "shown as the visitor's message");
      assert.ok((await msg.textContent()).includes(MARIA_TEXT), 'the text is shown as typed');
      const link = msg.locator('a');
      assert.equal(await link.count(), 1);
      assert.equal(await link.textContent(), LINK);
      assert.equal(await link.getAttribute('href'), LINK);
      assert.equal(await link.getAttribute('target'), '_blank');

      await first.input.click();
      await first.input.pressSequentially('Hap');
      const typing = v1.panel.locator('.lc-typing');
      await typing.waitFor({ state: 'visible' });
      assert.equal(await typing.getAttribute('role'), 'status');
      await shows(typing, `${first.name} is typing…`);
      await agentSays(first, AGENT_TEXT);
      const theirs = await shows(v1.stream.locator('.lc-msg-them'), '<script>alert(2)</script>');
      await hidden(typing);
      assert.ok((await theirs.textContent()).includes(AGENT_TEXT));
      await shows(theirs.locator('.lc-meta'), first.name);
      assert.match(await theirs.locator('.lc-meta').textContent(), /\d{1,2}:\d{2}/, 'a timestamp');
      assert.equal(await theirs.locator('a').getAttribute('href'), 'https://www.acme-analytics.example/plans');

      for (const [name, root] of [['widget', v1.stream], ['inbox', first.transcript]]) {
        assert.equal(await root.locator('img, b, script').count(), 0, `no element made from a message in the ${name}`);
      }
      assert.deepEqual(alerts, [], 'no alert ran');
      await v1.page.screenshot({ path: join(SHOTS, 'widget-desktop.png') });
      await first.page.screenshot({ path: join(SHOTS, 'inbox.png') });
    });

    await step('a reload mid-chat resumes the conversation with its history', async () => {
      const token = await v1.page.evaluate(() => localStorage.getItem('livechat:visitor_token'));
      assert.ok(token, 'the visitor token is stored');
      const keys = await v1.page.evaluate(() => Object.keys(localStorage));
      assert.ok(keys.every((k) => k.startsWith('livechat:')), `every storage key is prefixed: ${keys}`);
      assert.deepEqual(await v1.page.evaluate(() => Object.keys(window).filter((k) => /livechat/i.test(k))), ['LiveChat'], 'one global');
      await v1.page.reload();
      await v1.panel.waitFor(); // the panel was open, so it opens again
      await shows(v1.stream.locator('.lc-msg-me'), XSS);
      const theirs = await shows(v1.stream.locator('.lc-msg-them'), AGENT_TEXT);
      await v1.panel.locator('.lc-compose textarea:enabled').waitFor();
      await shows(v1.panel.locator('.lc-title'), first.name);
      await shows(theirs.locator('.lc-meta'), first.name); // named, not "Agent"
      await shows(v1.stream.locator('.lc-note'), `${first.name} joined the chat`);
      assert.equal(await v1.stream.locator('.lc-note', { hasText: 'joined the chat' }).count(), 1, 'one "joined" note');
      const order = await v1.stream.evaluate((s) => [...s.children].map((n) => n.className.split(' ')[0]));
      assert.ok(order.indexOf('lc-note') < order.lastIndexOf('lc-msg'), `the note comes before the agent's message: ${order}`);
      assert.equal(await v1.stream.locator('.lc-msg').count(), 2, 'each message once');
      assert.equal(await v1.stream.locator('img').count(), 0);
      const again = await v1.page.evaluate(() => localStorage.getItem('livechat:visitor_token'));
      assert.equal(jwtSubject(again), jwtSubject(token), 'the same visitor');
      assert.equal(await v1.stream.getByRole('button', { name: 'Yes', exact: true }).count(), 0, 'the dialog does not start over');

      await agentSays(first, 'Still there after the reload?');
      await shows(v1.stream.locator('.lc-msg-them'), 'Still there after the reload?');
      await visitorSays(v1, 'Yes, still here.');
      await shows(first.transcript.locator('.ib-msg'), 'Yes, still here.');
    });

    await step('a dropped connection resumes: nothing lost, nothing twice', async () => {
      const BEFORE = 'Sent as the network dropped';
      const AWAY_AGENT = 'Written while the visitor was offline';
      const AWAY_VISITOR = 'Written while offline';
      // The server stores the visitor's message, but its ack never reaches the page.
      net.hold = (f) => f.type === 'ack' || (f.type === 'message' && f.message?.sender?.kind === 'visitor');
      await v1.composer.fill(BEFORE);
      await v1.composer.press('Enter');
      await shows(first.transcript.locator('.ib-msg'), BEFORE);
      await shows(v1.stream.locator('.lc-msg-pending'), BEFORE);
      // The network goes; reconnects fail until it is back.
      net.refuse = true;
      await net.routes.at(-1).ws.close({ code: 4000, reason: 'network lost (test)' });
      await shows(v1.panel.locator('.lc-status'), 'Connection lost — reconnecting…');
      await agentSays(first, AWAY_AGENT);
      await v1.composer.fill(AWAY_VISITOR);
      await v1.composer.press('Enter');
      await shows(v1.stream.locator('.lc-msg-pending'), AWAY_VISITOR);
      net.hold = () => false;
      net.refuse = false;
      await v1.page.evaluate(() => window.dispatchEvent(new Event('online')));
      await shows(v1.stream.locator('.lc-msg-them'), AWAY_AGENT);
      await shows(first.transcript.locator('.ib-msg'), AWAY_VISITOR);
      await hidden(v1.stream.locator('.lc-msg-pending'));
      await hidden(v1.panel.locator('.lc-status'));
      for (const text of [BEFORE, AWAY_AGENT, AWAY_VISITOR]) {
        assert.equal(await v1.stream.locator('.lc-msg').filter({ hasText: text }).count(), 1, `"${text}" once in the widget`);
        assert.equal(await first.transcript.locator('.ib-msg').filter({ hasText: text }).count(), 1, `"${text}" once in the inbox`);
      }
      assert.equal(await v1.stream.locator('.lc-msg').count(), 7, 'seven messages, each once');
      assert.equal(await first.transcript.locator('.ib-msg').count(), 7);
    });

    await step('the agent ends the session; the widget shows the chat ended', async () => {
      await first.page.locator('#ib-end').click();
      await shows(v1.stream.locator('.lc-note'), 'The chat has ended.');
      await v1.stream.getByRole('button', { name: 'Start a new chat' }).waitFor();
      await v1.panel.locator('.lc-compose textarea:disabled').waitFor();
      assert.equal(await v1.composer.getAttribute('placeholder'), 'Chat ended');
      assert.equal(await v1.panel.getByRole('button', { name: 'End chat' }).isHidden(), true);
      await shows(first.page.locator('#ib-chat-title'), 'ended');
      await shows(first.past.locator('.ib-name'), maria.name);
      await first.page.locator('#ib-end').waitFor({ state: 'hidden' });
      await first.page.locator('#ib-input:disabled').waitFor();
      assert.equal(await first.active.count(), 0, 'no active chat left');
    });

    await step('the transcript downloads as .txt; the score is kept with the past chat after an inbox reload', async () => {
      const [download] = await Promise.all([
        first.page.waitForEvent('download'),
        first.page.getByRole('button', { name: 'Download transcript (.txt)' }).click(),
      ]);
      assert.match(download.suggestedFilename(), /^transcript-[\w.:@+=-]+\.txt$/);
      const text = readFileSync(await download.path(), 'utf8');
      assert.ok(text.includes(`Visitor: ${maria.name} <${maria.email}>`), text);
      assert.ok(text.includes(`] Visitor: ${MARIA_TEXT}`), text);
      assert.ok(text.includes(`] You: ${AGENT_TEXT}`), text);
      assert.equal(text.split('Sent as the network dropped').length - 1, 1, 'each message once');
      assert.match(text, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\] /m, 'timestamps');

      const score = first.page.locator('#ib-score');
      await score.getByRole('button', { name: '2', exact: true }).click();
      await score.locator('button[aria-pressed="true"]', { hasText: '2' }).waitFor();

      // Past chats come from the server (past_chats), even with this browser's memory
      // of them wiped; the transcript and the score come back with history.
      assert.deepEqual(await first.page.evaluate(() => Object.keys(localStorage)), [], 'the inbox keeps nothing in localStorage');
      await first.page.evaluate(() => localStorage.clear());
      await first.page.reload();
      await first.page.locator('#ib-conn[data-state="open"]').waitFor();
      await shows(first.past.locator('.ib-name'), maria.name);
      await first.past.filter({ hasText: maria.name }).getByRole('button').click();
      await shows(first.transcript.locator('.ib-msg'), 'Yes, still here.');
      assert.equal(await first.transcript.locator('.ib-msg').count(), 7, 'the whole transcript');
      await score.locator('button[aria-pressed="true"]', { hasText: '2' }).waitFor();
    });

    await step('nobody takes the next request: the fallback with the meeting link and the details form', async () => {
      await setAvailable(second, false);
      assert.equal(await second.active.filter({ hasText: noor.name }).count(), 1, 'going away does not end a chat');
      await walkDialog(v3, xss);
      await v3.card(`Thanks ${XSS}. What is your work email`); // the name, as text
      // Only the first agent is available: they decline, and the request falls back.
      for (let attempt = 1; attempt <= 2; attempt += 1) {
        const fallbackShown = v3.stream.locator('.lc-card a', { hasText: 'Book a meeting' }).waitFor();
        const next = await firstOf({ offer: shows(first.offers, xss.email), fallback: fallbackShown });
        if (next === 'fallback') break;
        const offer = first.offers.filter({ hasText: xss.email });
        assert.equal(await offer.locator('img').count(), 0, 'the name is text in the offer');
        await offer.getByRole('button', { name: 'Decline' }).click();
        await gone(first.offers);
      }
      const meeting = v3.stream.locator('.lc-card a', { hasText: 'Book a meeting' });
      await meeting.waitFor();
      assert.equal(await meeting.getAttribute('href'), 'https://meet.acme-analytics.example/sales');
      assert.equal(await v3.composer.getAttribute('placeholder'), 'No agent available');
      const fallback = v3.cards.filter({ has: v3.page.locator('a', { hasText: 'Book a meeting' }) });
      await shows(fallback, 'Sorry, nobody is available to chat right now.');
      const form = fallback.locator('form');
      await form.getByPlaceholder('Your email').fill(xss.email);
      await form.getByPlaceholder('Your message (optional)').fill('Please call me back.');
      await form.getByRole('button', { name: 'Send' }).click();
      await shows(v3.stream.locator('.lc-note'), 'We received your details');
    });

    await step('the missed request is listed for the away agent, who becomes available and picks it up', async () => {
      const missed = await shows(second.missed, XSS);
      assert.equal(await second.page.locator('#ib-missed img').count(), 0, 'the name is text in the missed list');
      // The visitor left an address: the row also offers an email reply (the
      // gateway scenario in tests/tests/chat_life.rs sends one; here the form opens).
      await missed.getByRole('button', { name: 'Reply by email' }).click();
      await missed.getByRole('textbox', { name: `Email reply to ${xss.email}` }).waitFor();
      await missed.getByRole('button', { name: 'Reply by email' }).click();
      await setAvailable(second, true);
      await missed.getByRole('button', { name: 'Pick up' }).click();
      await shows(second.page.locator('#ib-chat-title'), XSS);
      await shows(second.page.locator('#ib-visitor-fields dd'), xss.email);
      await shows(v3.stream.locator('.lc-note'), `${second.name} joined the chat`);
      await v3.panel.locator('.lc-compose textarea:enabled').waitFor();
      await agentSays(second, 'Sorry for the wait, how can I help?');
      await shows(v3.stream.locator('.lc-msg-them'), 'Sorry for the wait');
      await visitorSays(v3, 'Thanks for picking this up.');
      await shows(second.transcript.locator('.ib-msg'), 'Thanks for picking this up.');
      await hidden(second.missed.filter({ hasText: XSS }));
      assert.equal(await second.page.locator('img').count(), 0, 'no element made from visitor text in the inbox');
    });

    await step('an agent holds several chats at once and switches between them', async () => {
      assert.equal(await second.active.count(), 2, 'two live chats');
      await second.active.filter({ hasText: noor.name }).getByRole('button').click();
      await shows(second.page.locator('#ib-chat-title'), noor.name);
      await shows(second.transcript.locator('.ib-msg'), 'line one');
      assert.equal(await second.transcript.locator('.ib-msg', { hasText: 'picking this up' }).count(), 0);
      // Enter sends, Shift+Enter is a new line in the inbox too.
      await second.input.fill('Back to you,');
      await second.input.press('Shift+Enter');
      await second.input.pressSequentially('Noor.');
      await second.input.press('Enter');
      const back = await shows(v2.stream.locator('.lc-msg-them'), 'Back to you,');
      assert.ok((await back.textContent()).startsWith('Back to you,\nNoor.'), await back.textContent());
      assert.equal(await v3.stream.locator('.lc-msg-them', { hasText: 'Back to you' }).count(), 0, 'to the right visitor only');
      await shows(second.transcript.locator('.ib-msg-me'), 'Back to you,');
      await second.active.filter({ hasText: XSS }).getByRole('button').click();
      await shows(second.transcript.locator('.ib-msg'), 'picking this up');
    });

    await step('a transfer with a note: the other agent is offered the chat, accepts it, and the visitor sees who joined', async () => {
      const NOTE = 'Wants the <b>annual</b> plan, call back Monday';
      await second.page.getByRole('button', { name: 'Transfer', exact: true }).click();
      await second.page.locator('#ib-transfer-kind').selectOption('agent');
      await second.page.locator('#ib-transfer-to').fill(first.id);
      await second.page.locator('#ib-transfer-note').fill(NOTE);
      await second.page.getByRole('button', { name: 'Send transfer' }).click();
      await shows(second.page.locator('#ib-transfer-status'), `Transfer to ${first.name}: waiting for them to accept`);
      // The receiver's banner names the sender and shows the note as text.
      const offer = await shows(first.offers, `Transfer from ${second.name}: ${NOTE}`);
      await shows(offer.locator('.ib-offer-who'), xss.email);
      assert.equal(await offer.locator('b').count(), 0, 'the note is text, not markup');
      assert.ok(await first.page.evaluate(() => window.__notes.some((n) => n.title === 'Chat transfer request')));
      // Until the accept, the chat stays with the sender; the visitor notices nothing.
      await agentSays(second, 'One moment, a colleague will take over.');
      await shows(v3.stream.locator('.lc-msg-them'), 'a colleague will take over');
      await offer.getByRole('button', { name: 'Accept' }).click();
      await gone(first.offers);
      await shows(first.page.locator('#ib-chat-title'), XSS);
      await shows(first.transcript.locator('.ib-msg'), 'a colleague will take over');
      await shows(v3.stream.locator('.lc-note'), `${first.name} joined the chat`);
      await hidden(second.active.filter({ hasText: XSS }));
      assert.equal(await second.active.count(), 1, 'the sender keeps their other chat');
      await agentSays(first, 'Hi, I have your notes here.');
      await shows(v3.stream.locator('.lc-msg-them'), 'I have your notes here');
      await shows(first.active.locator('.ib-name'), XSS);
      // The receiver ends it: their load is back to none for the tests after this one.
      await first.page.locator('#ib-end').click();
      await shows(v3.stream.locator('.lc-note'), 'The chat has ended.');
    });

    await step('with both agents away the demo dialog ends with its away message', async () => {
      await setAvailable(first, false);
      await setAvailable(second, false);
      await walkDialog(v4, omar);
      await v4.card(`Our sales team is away right now. We'll email you at ${omar.email} within one business day.`);
      await v4.stream.getByRole('button', { name: 'Start a new chat' }).waitFor();
      assert.equal(await v4.stream.locator('.lc-waiting').count(), 0, 'no live chat card');
      assert.equal(await first.offers.count() + await second.offers.count(), 0, 'nobody is offered the chat');
    });

    await step('the widget fires the host-page events, each once per conversation', async () => {
      assert.deepEqual(await v1.events(), ['conversation_triggered', 'conversation_engaged', 'live_chat_requested',
        'live_chat_initiated', 'live_chat_ended']);
      assert.deepEqual(await v2.events(), ['conversation_triggered', 'conversation_engaged', 'live_chat_requested',
        'live_chat_initiated', 'conversation_closed']);
      assert.deepEqual(await v3.events(), ['conversation_triggered', 'conversation_engaged', 'live_chat_requested',
        'live_chat_request_timeout', 'live_chat_initiated', 'live_chat_ended']);
      assert.deepEqual(await v4.events(), ['conversation_triggered', 'conversation_engaged', 'conversation_completed']);
    });

    await step('signing out leaves nothing of the visitors in the page or the browser', async () => {
      const rows = (agent) => agent.page.locator('#ib-active li, #ib-missed li, #ib-past li, #ib-offers > *').count();
      for (const agent of [first, second]) {
        assert.ok(await rows(agent) > 0, `${agent.id} lists chats`);
        await agent.page.getByRole('button', { name: 'Sign out' }).click();
        await agent.page.locator('#ib-signin').waitFor();
        assert.equal(await rows(agent), 0, `${agent.id}: no list row left in the page`);
        const left = await agent.page.evaluate(() => ({
          local: Object.keys(localStorage),
          session: Object.keys(sessionStorage),
          text: document.body.textContent,
        }));
        assert.deepEqual(left.local, [], `${agent.id}: nothing in localStorage`);
        assert.deepEqual(left.session, [], `${agent.id}: the token is forgotten`);
        for (const v of [maria, noor, xss, omar]) {
          assert.ok(!left.text.includes(v.email) && !left.text.includes(v.name), `${agent.id}: ${v.name} gone from the page`);
        }
      }
    });

    await step('no page errors, console errors, failed requests or alerts', async () => {
      const problems = log.filter((l) => / page error: | console\.error: | HTTP \d{3} /.test(l));
      assert.deepEqual(problems, []);
      assert.deepEqual(alerts, []);
      t.diagnostic(`screenshots: ${['widget-desktop.png', 'widget-mobile.png', 'inbox.png'].map((f) => join(SHOTS, f)).join(' ')}`);
    });
  } finally {
    dumpLogs(t, failed());
  }
  assert.equal(failed(), false, 'every step passed');
});

test('on a phone, a host page wider than the screen: the launcher is on screen and the panel fits it', async (t) => {
  // Many real pages overflow sideways on a phone. The browser then widens the layout
  // viewport, which position: fixed follows; the widget must follow the screen.
  const page = await newPage(await newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true }), 'wide');
  let ok = false;
  try {
    await page.goto(`${gw.base}/`);
    await page.waitForFunction(() => Boolean(window.LiveChat));
    await page.evaluate(() => {
      const wide = document.createElement('div');
      wide.style.cssText = 'width: 620px; height: 40px; background: #ddd';
      wide.textContent = 'a table a host page did not make responsive';
      document.querySelector('main').prepend(wide);
    });
    assert.ok((await pageOverflow(page)).x >= 200, 'the host page overflows the screen');
    // Look from where the visitor stands: scrolled down and sideways.
    await page.mouse.wheel(150, 400);
    await page.waitForFunction(() => window.visualViewport.offsetLeft > 0 || window.scrollX > 0);
    const { bubble, screen } = await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => {
      const r = document.querySelector('#lc-livechat-host').shadowRoot.querySelector('.lc-bubble').getBoundingClientRect();
      const vv = window.visualViewport;
      ok({ bubble: { x: r.left + r.width / 2, y: r.top + r.height / 2, l: r.left, r: r.right, t: r.top, b: r.bottom },
        screen: { l: vv.offsetLeft, t: vv.offsetTop, r: vv.offsetLeft + vv.width, b: vv.offsetTop + vv.height } });
    }))));
    assert.ok(bubble.l >= screen.l && bubble.r <= screen.r && bubble.t >= screen.t && bubble.b <= screen.b,
      `the launcher is on screen: ${JSON.stringify(bubble)} in ${JSON.stringify(screen)}`);
    // A tap where the visitor sees the launcher (screen coordinates) opens the panel.
    await page.touchscreen.tap(bubble.x - screen.l, bubble.y - screen.t);
    await page.locator('#lc-livechat-host .lc-panel:not([hidden])').waitFor();
    await page.locator('#lc-livechat-host .lc-card').filter({ hasText: 'Would you like to talk to someone from sales?' }).waitFor();
    await page.waitForFunction(() => new Promise((ok) => requestAnimationFrame(() => ok(true))));
    await fitsScreen(page);
    ok = true;
  } finally {
    if (!ok) await page.screenshot({ path: join(FAILURES, 'livechat-failure-wide.png') }).catch(() => {});
    dumpLogs(t, !ok);
  }
});

test('the inbox signs in with a pasted agent token and refuses a bad one', async (t) => {
  const page = await newPage(await newContext(), 'signin');
  let ok = false;
  try {
    await page.goto(`${gw.base}/inbox/`);
    const form = page.locator('#ib-signin');
    await form.waitFor();
    await form.getByLabel('Agent token').fill('not-a-token');
    await form.getByRole('button', { name: 'Sign in' }).click();
    await form.locator('#ib-signin-error').waitFor();
    assert.equal(await page.locator('#ib-main').isHidden(), true);
    const token = new URL(gw.inbox.cleo).hash.replace(/^#token=/, '');
    await form.getByLabel('Agent token').fill(token);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#ib-conn[data-state="open"]').waitFor();
    await page.locator('#ib-main').waitFor();
    await shows(page.locator('#ib-me'), 'cleo');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await form.waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('livechat:agent_token')), null, 'the token is forgotten');
    ok = true;
  } finally {
    if (!ok) await page.screenshot({ path: join(FAILURES, 'livechat-failure-signin.png') }).catch(() => {});
    dumpLogs(t, !ok);
  }
});

test('analytics: after one chat, a bar of the Sales Admin\'s chart equals its table cell and the downloaded CSV\'s; a Marketing Admin sees the funnel only', async (t) => {
  const { step, failed } = stepper(t);
  // Only this test's agent is eligible: the pages of the tests before it go.
  for (const ctx of contexts.splice(0)) await ctx.close().catch(() => {});
  const jo = { name: 'Jo', email: 'jo-analytics@example.com' };
  let ana;
  let requested = 0;
  let day;
  try {
    await step('ana signs in, available; a visitor walks the demo dialog to her, waits on her Live tab, and they chat, then she ends it', async () => {
      ana = inboxOf(await newPage(await newContext(), 'ana-analytics'), 'ana', 'Ana Lima');
      await ana.page.goto(gw.inbox.ana);
      await ana.page.locator('#ib-conn[data-state="open"]').waitFor();
      await ana.page.locator('#ib-avail-wrap').waitFor();
      await setAvailable(ana, true);
      const w = widgetOf(await newPage(await newContext(), 'jo'));
      await w.page.goto(`${gw.base}/`);
      await w.page.waitForFunction(() => Boolean(window.LiveChat));
      await w.bubble.click();
      const ask = await w.card('Would you like to talk to someone from sales?');
      await ask.getByRole('button', { name: 'Yes', exact: true }).click();
      const name = await w.card("What's your first name?");
      await name.locator('input.lc-input').fill(jo.name);
      await name.getByRole('button', { name: 'Send' }).click();
      const email = await w.card('What is your work email');
      await email.locator('input.lc-input').fill(jo.email);
      await email.getByRole('button', { name: 'Send' }).click();
      const offer = await shows(ana.offers, jo.email);

      // While Jo waits, ana's Live tab lists them, offered to her, her load beside.
      const { page } = ana;
      await page.getByRole('button', { name: 'Live', exact: true }).click();
      await page.locator('#ib-live').waitFor();
      assert.equal(await page.locator('#ib-main').isHidden(), true, 'the chats make way for the tab');
      const waiting = page.locator('#ib-live-waiting tr').filter({ hasText: 'offered to Ana Lima' });
      await waiting.first().waitFor({ timeout: TIMEOUT });
      assert.match(await waiting.first().textContent(), /waiting \d+s/);
      assert.match(await page.locator('#ib-live-summary').textContent(), /^1 waiting, the longest for \d+s$/);
      const mine = page.locator('#ib-live-agents tr[data-agent="ana"]');
      await shows(mine, '1 offer out');
      assert.match(await mine.textContent(), /Available.*0 \/ 5 chats/);
      await page.screenshot({ path: join(SHOTS, 'live.png') });
      await page.getByRole('button', { name: 'Chats', exact: true }).click();

      await offer.getByRole('button', { name: 'Accept' }).click();
      await shows(w.stream.locator('.lc-note'), 'Ana Lima joined the chat');
      await agentSays(ana, 'Hello Jo, how can I help?');
      await shows(w.stream.locator('.lc-msg-them'), 'Hello Jo, how can I help?');

      // An internal note: ana's transcript shows it, the visitor never gets it.
      const NOTE = 'Internal: Jo asked about the enterprise tier';
      await ana.page.locator('#ib-note-mode').check();
      await ana.page.locator('#ib-input').fill(NOTE);
      await ana.page.locator('#ib-input').press('Enter');
      await shows(ana.page.locator('#ib-transcript .ib-note'), NOTE);
      await ana.page.locator('#ib-note-mode').uncheck();
      await agentSays(ana, 'One moment please.');
      await shows(w.stream.locator('.lc-msg-them'), 'One moment please.');
      assert.equal((await w.stream.textContent()).includes(NOTE), false, 'the visitor never sees the note');

      // A canned response, by keyboard only: "/pri", Enter picks it (its token
      // filled in with the visitor's name), Enter sends it.
      await ana.page.locator('#ib-input').focus();
      await ana.page.keyboard.type('/pri');
      await shows(ana.page.locator('#ib-canned-list [role="option"]'), '/pricing');
      await ana.page.keyboard.press('Enter');
      assert.equal(await ana.page.locator('#ib-input').inputValue(), 'Hi Jo, our plans and prices: https://acme-analytics.example/plans');
      await ana.page.keyboard.press('Enter');
      await shows(w.stream.locator('.lc-msg-them'), 'Hi Jo, our plans and prices');

      // Why this agent? ana, a Sales Admin, reads the decision that chose her.
      await ana.page.getByRole('button', { name: 'Why this agent?' }).click();
      await shows(ana.page.locator('#ib-trace'), 'offered to ana');
      assert.match(await ana.page.locator('#ib-trace').textContent(), /ana\s*chosen/);
      await ana.page.locator('#ib-end').click();
      await shows(w.stream.locator('.lc-note'), 'The chat has ended.');
    });

    await step('ana opens Analytics: the last 7 days by day, until the chat is counted (up to 10 s)', async () => {
      const { page } = ana;
      await page.getByRole('button', { name: 'Analytics', exact: true }).click();
      await page.locator('#ib-analytics').waitFor();
      assert.equal(await page.locator('#ib-main').isHidden(), true, 'the chats make way for the page');
      assert.equal(await page.locator('#ib-an-by').inputValue(), 'day');
      const from = await page.locator('#ib-an-from').inputValue();
      const to = await page.locator('#ib-an-to').inputValue();
      assert.equal((Date.parse(to) - Date.parse(from)) / 86_400_000, 6, `7 days: ${from} to ${to}`);
      // The counters are kept off the chat's path, so they may lag the chat a little.
      const deadline = Date.now() + 10_000;
      for (;;) {
        await page.locator('#ib-an-table tbody tr').first().waitFor();
        const cells = await page.locator('#ib-an-table tbody td[data-key="chats_requested"]').allTextContents();
        const days = await page.locator('#ib-an-table tbody th[scope="row"]').allTextContents();
        const i = cells.findIndex((c) => Number(c) > 0);
        if (i >= 0) {
          requested = Number(cells[i]);
          day = days[i];
          break;
        }
        assert.ok(Date.now() < deadline, `no day counted a request within 10 s: ${days.join(' ')} / ${cells.join(' ')}`);
        await new Promise((ok) => setTimeout(ok, 500));
        await page.getByRole('button', { name: 'Show', exact: true }).click();
      }
      t.diagnostic(`${day}: ${requested} requested`);
      assert.equal(await page.locator('#ib-an-status').textContent().then((s) => s.includes('All agents')), true, 'a Sales Admin sees every row');
    });

    await step('the chart\'s bar for that day says the table\'s number, and so does the downloaded CSV', async () => {
      const { page } = ana;
      const bar = page.locator(`#ib-an-chart rect[data-key="chats_requested"][data-row="${day}"]`);
      assert.equal(await bar.count(), 1);
      assert.equal(Number(await bar.getAttribute('data-value')), requested);
      assert.equal(await bar.locator('title').textContent(), `${day}: requested ${requested}`);
      assert.ok(Number(await bar.getAttribute('height')) > 0, 'a non-zero bar has a height');
      const row = page.locator('#ib-an-table tbody tr').filter({ has: page.locator('th', { hasText: day }) });
      for (const key of ['chats_requested', 'chats_connected', 'chats_missed']) {
        const cell = Number(await row.locator(`td[data-key="${key}"]`).textContent());
        const drawn = Number(await page.locator(`#ib-an-chart rect[data-key="${key}"][data-row="${day}"]`).getAttribute('data-value'));
        assert.equal(drawn, cell, `${key}: bar and table`);
      }
      const from = await page.locator('#ib-an-from').inputValue();
      const to = await page.locator('#ib-an-to').inputValue();
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download CSV', exact: true }).click(),
      ]);
      assert.equal(download.suggestedFilename(), `livechat-report-${from}-${to}-day.csv`);
      const [header, ...lines] = parseCsv(readFileSync(await download.path(), 'utf8'));
      assert.equal(header[0], 'day');
      const line = lines.find((l) => l[0] === day);
      assert.ok(line, `the CSV has ${day}`);
      for (const key of ['chats_requested', 'chats_connected', 'chats_missed']) {
        const cell = await row.locator(`td[data-key="${key}"]`).textContent();
        assert.equal(line[header.indexOf(key)], cell, `${key}: CSV and table`);
      }
      assert.equal(Number(line[header.indexOf('chats_requested')]), requested);
      await page.screenshot({ path: join(SHOTS, 'analytics.png') });
    });

    await step('mia, a Marketing Admin, signs in to Analytics only: no chats, no availability, the funnel\'s columns', async () => {
      const page = await newPage(await newContext(), 'mia');
      await page.goto(gw.inbox.mia);
      await page.locator('#ib-analytics').waitFor();
      await page.locator('#ib-an-table tbody tr').first().waitFor();
      assert.equal(await page.locator('#ib-main').isHidden(), true);
      assert.equal(await page.locator('#ib-tab-chats').isHidden(), true, 'no Chats tab');
      assert.equal(await page.locator('#ib-tab-analytics').getAttribute('aria-pressed'), 'true');
      assert.equal(await page.locator('#ib-avail-wrap').isHidden(), true);
      const keys = await page.locator('#ib-an-table tbody tr').first().locator('td').evaluateAll((tds) => tds.map((td) => td.dataset.key));
      assert.deepEqual(keys, ['dialogs_triggered', 'dialogs_engaged', 'dialogs_completed', 'goals_reached', 'emails_captured']);
      const byOptions = await page.locator('#ib-an-by option:not([disabled])').evaluateAll((os) => os.map((o) => o.value));
      assert.deepEqual(byOptions, ['day', 'dialog']);
      const sent = log.filter((l) => l.startsWith('[mia] -> ')).map((l) => JSON.parse(l.slice('[mia] -> '.length)).action);
      assert.deepEqual([...new Set(sent)].filter((a) => !['sync', 'report', 'ping'].includes(a)), [], 'never a chat action');
    });

    await step('mia opens the Dialogs page: the demo\'s two dialogs, highest priority first, each valid, and one\'s diagram as an image', async () => {
      const page = await newPage(await newContext(), 'mia');
      await page.goto(gw.inbox.mia);
      await page.locator('#ib-analytics').waitFor();
      await page.locator('#ib-tab-dialogs').click();
      await page.locator('#ib-dialogs').waitFor();
      await page.locator('#ib-dlg-table tr th[scope="row"]').first().waitFor();
      const names = await page.locator('#ib-dlg-table tr th[scope="row"]').allTextContents();
      assert.deepEqual(names, ['Pricing questions', 'Talk to sales']);
      const first = page.locator('#ib-dlg-table tr').nth(1);
      assert.match(await first.textContent(), /Pages: \*\/pricing\.html/);
      assert.match(await first.textContent(), /After 5 s on the page/);
      assert.match(await first.textContent(), /Shows a teaser/);
      assert.match(await page.locator('#ib-dlg-table tr').nth(2).textContent(), /Not on: \*\/pricing\.html/);
      await first.getByRole('button', { name: 'Diagram' }).click();
      const img = page.locator('#ib-dlg-diagram');
      await img.waitFor();
      assert.equal(await page.locator('#ib-dlg-diagram-title').textContent(), 'Pricing questions');
      assert.match(await img.getAttribute('src'), /^data:image\/svg\+xml/);
      await page.waitForFunction(() => document.getElementById('ib-dlg-diagram').naturalWidth > 0);
      assert.equal(await page.locator('#ib-dialogs svg').count(), 0, 'the SVG is an image, never markup in the page');
      await page.screenshot({ path: join(SHOTS, 'inbox-dialogs.png') });
    });

    await step('no page errors, console errors, failed requests or alerts', async () => {
      const mine = log.filter((l) => /^\[(ana-analytics|jo|mia)\]/.test(l));
      assert.deepEqual(mine.filter((l) => / page error: | console\.error: | HTTP \d{3} /.test(l)), []);
      assert.deepEqual(alerts, []);
      t.diagnostic(`screenshot: ${join(SHOTS, 'analytics.png')}`);
    });
  } finally {
    dumpLogs(t, failed());
  }
  assert.equal(failed(), false, 'every step passed');
});

test('picklist and phone capture cards: shown, a bad value refused inline, the answer submitted (scripted socket)', async (t) => {
  // The demo dialog has no picklist or phone card, so this page's socket is a script
  // that speaks the protocol (docs/protocol.md) instead of the gateway.
  const ctx = await newContext();
  const sent = [];
  const PHONE_ERROR = 'enter a phone number like +1 555 0100';
  const phone = { type: 'capture', card: 'phone', field: 'phone', prompt: 'Which number should we call?', placeholder: '+1 555 0100' };
  await ctx.routeWebSocket((url) => url.pathname === '/ws', (ws) => {
    const reply = (frame) => ws.send(JSON.stringify(frame));
    ws.onMessage((m) => {
      const f = JSON.parse(String(m));
      sent.push(f);
      if (f.action === 'start') {
        reply({ type: 'session', visitor_token: 'scripted.token', conversation: 'scripted-1' });
        reply({ type: 'cards', cards: [
          { type: 'message', card: 'hi', text: 'Two quick questions.' },
          { type: 'capture', card: 'size', field: 'picklist', prompt: 'How big is your company?', placeholder: 'Company size', options: ['1-50', '51-200', '201-1000', '1000+'] },
        ] });
      } else if (f.action === 'submit' && f.card === 'size') {
        reply({ type: 'cards', cards: [phone] });
      } else if (f.action === 'submit' && f.card === 'phone') {
        if (/^\+?[\d ]{7,}$/.test(f.value)) {
          // The dialog's end: its last card, then the server's word that it is over.
          reply({ type: 'cards', cards: [{ type: 'message', card: 'bye', text: `Thanks, we will call ${f.value}.` }] });
          reply({ type: 'chat_ended', conversation: 'scripted-1', reason: 'completed' });
        } else {
          reply({ type: 'cards', cards: [{ ...phone, error: PHONE_ERROR }] });
        }
      }
    });
  });
  const page = await newPage(ctx, 'scripted');
  const w = widgetOf(page);
  let ok = false;
  try {
    await page.goto(`${gw.base}/`);
    await w.bubble.click();
    const size = await w.card('How big is your company?');
    const select = size.locator('select.lc-input');
    assert.deepEqual(await select.locator('option').allTextContents(), ['Company size', '1-50', '51-200', '201-1000', '1000+']);
    await focusOn(page, 'select');
    await select.selectOption('51-200');
    await size.getByRole('button', { name: 'Send' }).click();
    const asked = await w.card('Which number should we call?');
    const input = asked.locator('input.lc-input');
    assert.equal(await input.getAttribute('type'), 'tel');
    assert.equal(await input.getAttribute('autocomplete'), 'tel');
    await focusOn(page, 'input[type="tel"]');
    await page.keyboard.type('call me maybe');
    await page.keyboard.press('Enter');
    const phoneCard = w.stream.locator('.lc-card').filter({ hasText: 'Which number should we call?' });
    await shows(phoneCard.locator('.lc-error[role="alert"]'), PHONE_ERROR);
    assert.equal(await phoneCard.locator('input').inputValue(), 'call me maybe', 'the refused value is kept');
    assert.equal(await phoneCard.locator('input').getAttribute('aria-invalid'), 'true');
    await phoneCard.locator('input').fill('+1 555 0100');
    await phoneCard.locator('input').press('Enter');
    await w.card('Thanks, we will call +1 555 0100.');
    await gone(w.stream.locator('.lc-error'));
    assert.equal(await w.stream.locator('.lc-card').filter({ hasText: 'Which number' }).count(), 1, 'the card is replaced, not repeated');
    assert.deepEqual(sent.filter((f) => f.action === 'submit'), [
      { action: 'submit', card: 'size', value: '51-200' },
      { action: 'submit', card: 'phone', value: 'call me maybe' },
      { action: 'submit', card: 'phone', value: '+1 555 0100' },
    ]);
    assert.deepEqual(await w.events(), ['conversation_triggered', 'conversation_engaged', 'conversation_completed']);
    ok = true;
  } finally {
    if (!ok) await page.screenshot({ path: join(FAILURES, 'livechat-failure-scripted.png') }).catch(() => {});
    dumpLogs(t, !ok);
  }
});

test('a German page: the widget, the dialog and the server speak German; an Arabic or Hebrew message reads right to left', async (t) => {
  // The browser says Japanese: the page's <html lang="de"> wins over it. The demo
  // page is made German once parsed, before its module scripts run (a page served
  // by the test's own route would count as a public page that Chromium forbids to
  // reach the local gateway).
  const ctx = await newContext({ locale: 'ja-JP' });
  await ctx.addInitScript(() => document.addEventListener('readystatechange', () => {
    document.documentElement.lang = 'de';
  }, { once: true }));
  const page = await newPage(ctx, 'german');
  const w = widgetOf(page);
  let ok = false;
  try {
    await page.goto(`${gw.base}/`);
    await page.waitForFunction(() => Boolean(window.LiveChat));
    assert.equal(await w.bubble.getAttribute('aria-label'), 'Chat öffnen');
    await w.bubble.click();
    await w.panel.waitFor();
    await shows(w.panel.locator('.lc-title'), 'Chatten Sie mit uns');
    assert.equal(await w.panel.locator('.lc-head button', { hasText: '✕' }).getAttribute('aria-label'), 'Chat schließen');
    assert.equal(await w.composer.getAttribute('placeholder'), 'Wählen Sie oben eine Option');
    // The demo dialog's German texts, and the server's own German capture error.
    await w.card('Hallo zusammen! Danke, dass Sie sich unsere Preise ansehen.');
    const ask = await w.card('Möchten Sie mit jemandem aus dem Vertrieb sprechen?');
    await ask.getByRole('button', { name: 'Ja', exact: true }).click();
    const name = await w.card('Wie ist Ihr Vorname?');
    assert.equal(await name.locator('input.lc-input').getAttribute('placeholder'), 'Vorname');
    await name.locator('input.lc-input').fill('Jonas');
    await name.getByRole('button', { name: 'Senden' }).click();
    const email = () => w.stream.locator('.lc-card').filter({ hasText: 'Wie lautet Ihre geschäftliche E-Mail-Adresse' });
    await shows(email(), 'Danke, Jonas!');
    await email().locator('input.lc-input').fill(BAD_EMAIL);
    await email().getByRole('button', { name: 'Senden' }).click();
    await shows(email().locator('.lc-error[role="alert"]'), 'Geben Sie eine E-Mail-Adresse wie name@example.com ein');
    assert.equal(await w.panel.evaluate((p) => getComputedStyle(p).direction), 'ltr', 'German reads left to right');
    await page.screenshot({ path: join(SHOTS, 'widget-de.png') });
    ok = true;
  } finally {
    if (!ok) {
      await page.screenshot({ path: join(FAILURES, 'livechat-failure-german.png') }).catch(() => {});
      dumpLogs(t, true);
    }
  }

  // The snippet's data-lang wins over the page's language; messages in a
  // right-to-left script read right to left in the left-to-right panel. A scripted
  // socket stands for the server and its agent.
  const rtlCtx = await newContext();
  const sent = [];
  const ARABIC = 'مرحبا! كيف يمكنني مساعدتك اليوم؟';
  const HEBREW = 'שלום, אני רוצה לדבר עם מכירות';
  await rtlCtx.addInitScript(() => document.addEventListener('readystatechange', () => {
    document.querySelector('script[data-socket-url]').dataset.lang = 'pt-BR';
  }, { once: true }));
  await rtlCtx.routeWebSocket((url) => url.pathname === '/ws', (ws) => {
    ws.onMessage((m) => {
      const f = JSON.parse(String(m));
      sent.push(f);
      if (f.action !== 'start') return;
      const at = '2026-03-02T10:00:00Z';
      ws.send(JSON.stringify({ type: 'session', visitor_token: 'scripted.token', conversation: 'scripted-rtl' }));
      ws.send(JSON.stringify({ type: 'history', before: null, next: null, messages: [
        { id: 'v1', seq: 1, conversation: 'scripted-rtl', sender: { kind: 'visitor' }, text: HEBREW, at },
        { id: 'a1', seq: 2, conversation: 'scripted-rtl', sender: { kind: 'agent', agent: 'ana' }, text: ARABIC, at },
      ] }));
      ws.send(JSON.stringify({ type: 'agent_joined', agent_name: 'Ana' }));
    });
  });
  const rtl = await newPage(rtlCtx, 'rtl');
  const r = widgetOf(rtl);
  ok = false;
  try {
    await rtl.goto(`${gw.base}/`);
    await r.bubble.click();
    const them = await shows(r.stream.locator('.lc-msg-them'), ARABIC);
    const me = await shows(r.stream.locator('.lc-msg-me'), HEBREW);
    for (const bubble of [them, me]) {
      const text = bubble.locator('[dir="auto"]');
      assert.equal(await text.evaluate((e) => getComputedStyle(e).direction), 'rtl');
    }
    assert.equal(await r.panel.evaluate((p) => getComputedStyle(p).direction), 'ltr');
    await shows(r.stream.locator('.lc-note'), 'Ana entrou no chat');
    assert.equal(await r.composer.getAttribute('placeholder'), 'Digite uma mensagem…');
    assert.equal(sent.find((f) => f.action === 'start').lang, 'pt-br', 'data-lang over <html lang="en">');
    ok = true;
  } finally {
    if (!ok) await rtl.screenshot({ path: join(FAILURES, 'livechat-failure-rtl.png') }).catch(() => {});
    dumpLogs(t, !ok);
  }
});

test('a branded widget: the configured accent from site.json, data- overrides (colour, left, offset, texts, avatar), a low-contrast override refused with a warning', async (t) => {
  const colours = (page) => page.evaluate(() => {
    const s = document.querySelector('#lc-livechat-host').shadowRoot;
    return { bubble: getComputedStyle(s.querySelector('.lc-bubble')).backgroundColor, head: getComputedStyle(s.querySelector('.lc-head')).backgroundColor };
  });
  const warnings = (page) => {
    const seen = [];
    page.on('console', (m) => { if (m.type() === 'warning') seen.push(m.text()); });
    return seen;
  };
  // The snippet's attributes are set once the page is parsed, before its module scripts run.
  const withAttributes = async (ctx, attrs) => ctx.addInitScript((a) => document.addEventListener('readystatechange', () => {
    Object.assign(document.querySelector('script[data-socket-url]').dataset, a);
  }, { once: true }), attrs);

  // The account's configured branding, as the gateway's site.json carries it, with
  // its accent changed to a purple: the widget applies it.
  const configured = async (ctx) => ctx.route('**/widget/site.json', async (route) => {
    const site = await (await route.fetch()).json();
    assert.equal(site.widget.accent, '#3b5bdb', "the demo configuration's widget: section is served");
    site.widget.accent = '#5f3dc4';
    await route.fulfill({ json: site });
  });
  const plainCtx = await newContext();
  await configured(plainCtx);
  const plain = await newPage(plainCtx, 'brand-plain');
  const plainWarnings = warnings(plain);
  let ok = false;
  try {
    await plain.goto(`${gw.base}/`);
    await plain.waitForFunction(() => Boolean(window.LiveChat));
    assert.deepEqual(await colours(plain), { bubble: 'rgb(95, 61, 196)', head: 'rgb(95, 61, 196)' });
    assert.deepEqual(plainWarnings, []);
    ok = true;
  } finally {
    if (!ok) await plain.screenshot({ path: join(FAILURES, 'livechat-failure-brand-plain.png') }).catch(() => {});
    dumpLogs(t, !ok);
  }

  // A yellow with white text reads at 1.51:1: refused, the configured purple kept, warned.
  const lowCtx = await newContext();
  await configured(lowCtx);
  await withAttributes(lowCtx, { accent: '#ffcc00' });
  const low = await newPage(lowCtx, 'brand-low');
  const lowWarnings = warnings(low);
  ok = false;
  try {
    await low.goto(`${gw.base}/`);
    await low.waitForFunction(() => Boolean(window.LiveChat));
    assert.deepEqual(await colours(low), { bubble: 'rgb(95, 61, 196)', head: 'rgb(95, 61, 196)' });
    assert.deepEqual(lowWarnings, ["livechat: data-accent ignored: accent #ffcc00 on #ffffff text has contrast 1.51:1, below WCAG's 4.5:1; the configured value is kept"]);
    ok = true;
  } finally {
    if (!ok) await low.screenshot({ path: join(FAILURES, 'livechat-failure-brand-low.png') }).catch(() => {});
    dumpLogs(t, !ok);
  }

  // Overrides that pass: a teal accent, bottom left lifted above a cookie bar, the
  // texts and a same-origin avatar; an avatar with markup in it would be text in a src.
  const brand = { accent: '#0b7285', position: 'left', offsetX: '24', offsetY: '96', title: 'Talk to sales <b>now</b>',
    subtitle: 'We answer in minutes', launcherLabel: 'Chat with us', avatar: '/demo-avatar.svg' };
  for (const [name, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 375, height: 740 }]]) {
    const ctx = await newContext(name === 'phone' ? { viewport, isMobile: true, hasTouch: true } : { viewport });
    await configured(ctx);
    await withAttributes(ctx, brand);
    const page = await newPage(ctx, `brand-${name}`);
    const seen = warnings(page);
    const w = widgetOf(page);
    ok = false;
    try {
      await page.goto(`${gw.base}/`);
      await page.waitForFunction(() => Boolean(window.LiveChat));
      assert.equal((await colours(page)).bubble, 'rgb(11, 114, 133)');
      await shows(w.bubble.locator('.lc-label'), 'Chat with us');
      assert.equal(await w.bubble.getAttribute('aria-label'), 'Chat with us, Open chat', 'its name starts with what it shows');
      const launcher = await w.bubble.boundingBox();
      assert.ok(launcher.x < viewport.width - launcher.x - launcher.width, `the launcher is on the left: ${JSON.stringify(launcher)}`);
      assert.ok(launcher.x + launcher.width <= viewport.width && launcher.y + launcher.height <= viewport.height, 'and on screen');
      await w.bubble.click();
      await w.panel.waitFor();
      await w.card('Would you like to talk to someone from sales?');
      assert.equal((await colours(page)).head, 'rgb(11, 114, 133)');
      await shows(w.panel.locator('.lc-title'), 'Talk to sales <b>now</b>');
      assert.equal(await w.panel.locator('.lc-title b').count(), 0, 'the title is text, not markup');
      await shows(w.panel.locator('.lc-sub'), 'We answer in minutes');
      const avatar = w.panel.locator('img.lc-avatar');
      assert.equal(await avatar.getAttribute('src'), `${gw.base}/demo-avatar.svg`);
      await page.waitForFunction(() => document.querySelector('#lc-livechat-host').shadowRoot.querySelector('img.lc-avatar').naturalWidth > 0);
      const panel = await w.panel.boundingBox();
      assert.ok(panel.x >= 0 && panel.y >= 0 && panel.x + panel.width <= viewport.width && panel.y + panel.height <= viewport.height,
        `the panel fits the screen: ${JSON.stringify(panel)} in ${JSON.stringify(viewport)}`);
      if (name === 'phone') await fitsScreen(page);
      else {
        assert.ok(panel.x < viewport.width / 2, 'the panel opens on the left');
        await page.screenshot({ path: join(SHOTS, 'widget-branded.png') });
      }
      assert.deepEqual(seen, []);
      ok = true;
    } finally {
      if (!ok) await page.screenshot({ path: join(FAILURES, `livechat-failure-brand-${name}.png`) }).catch(() => {});
      dumpLogs(t, !ok);
    }
  }
});

test('on a fake page clock the widget pings every 5 minutes and renews its connection before 2 hours, resuming in place', async (t) => {
  const ctx = await newContext();
  const page = await newPage(ctx, 'clock');
  const w = widgetOf(page);
  const sockets = [];
  page.on('websocket', (ws) => {
    const s = { sent: [], received: [], closed: false };
    ws.on('framesent', (f) => s.sent.push(JSON.parse(f.payload)));
    ws.on('framereceived', (f) => s.received.push(JSON.parse(f.payload)));
    ws.on('close', () => { s.closed = true; });
    sockets.push(s);
  });
  let ok = false;
  try {
    await page.clock.install();
    await page.goto(`${gw.base}/`);
    await w.bubble.click();
    const ask = await w.card('Would you like to talk to someone from sales?');
    await ask.getByRole('button', { name: 'Yes', exact: true }).click();
    await w.card("What's your first name?");
    assert.equal(sockets.length, 1);
    const cards = await w.cards.count();

    // 1 h 55 min of page time: 22 or 23 pings, then a planned reconnect.
    await page.clock.runFor('01:55:00');
    await eventually(() => sockets.length === 2 && sockets[1].received.some((f) => f.type === 'cards'), 'a second connection that resumed');
    await eventually(() => sockets[0].closed, 'the first connection closed');
    const pings = sockets[0].sent.filter((f) => f.action === 'ping').length;
    assert.ok(pings >= 22, `pinged ${pings} times in 115 minutes`);
    // The pings raced the renewal; the server answers one on the new connection.
    await page.clock.runFor('05:00');
    await eventually(() => sockets[1].sent.some((f) => f.action === 'ping'), 'a ping on the new connection');
    await eventually(() => sockets[1].received.some((f) => f.type === 'pong'), 'its pong');
    assert.ok(sockets[1].sent.some((f) => f.action === 'start'), 'the new connection resumes with start');
    await w.stream.locator('.lc-card input[placeholder="First name"]').waitFor();
    assert.equal(await w.cards.count(), cards, 'the resumed card replaces itself, nothing twice');
    assert.equal(await w.panel.locator('.lc-status').isHidden(), true, 'no "connection lost" for a planned reconnect');
    // The dialog goes on over the new connection.
    await w.stream.locator('.lc-card input[placeholder="First name"]').fill('Ines');
    await w.stream.locator('.lc-card input[placeholder="First name"]').press('Enter');
    await w.card('Thanks Ines. What is your work email');
    ok = true;
  } finally {
    if (!ok) await page.screenshot({ path: join(FAILURES, 'livechat-failure-clock.png') }).catch(() => {});
    dumpLogs(t, !ok);
  }
});

test('targeted dialogs: two pages get two dialogs, the time on page trigger fires on a fake clock, the teaser is dismissed and remembered, a completed dialog is not offered again', async (t) => {
  const ctx = await newContext();
  const page = await newPage(ctx, 'dialogs');
  const w = widgetOf(page);
  const starts = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    const frame = JSON.parse(f.payload);
    if (frame.action === 'start') starts.push(frame);
  }));
  const teaser = page.locator('.lc-teaser');
  const TEASER = 'Comparing plans? We can help you pick one.';
  let ok = false;
  try {
    await page.clock.install();
    await page.goto(`${gw.base}/pricing.html`);
    await page.waitForFunction(() => Boolean(window.LiveChat));
    // Nothing shows and no socket opens before the pricing dialog's 5 seconds.
    await page.clock.runFor('00:04');
    assert.equal(await w.bubble.isVisible(), false, 'no launcher before the trigger');
    assert.equal(starts.length, 0);
    await page.clock.runFor('00:01');
    await w.bubble.waitFor({ state: 'visible' });
    await shows(teaser, TEASER);
    assert.equal(await teaser.locator('.lc-teaser-text').getAttribute('dir'), 'auto');
    await page.screenshot({ path: join(SHOTS, 'widget-teaser.png') });
    // Dismissed from the keyboard, and remembered across a reload.
    await teaser.getByRole('button', { name: 'Dismiss' }).focus();
    await page.keyboard.press('Enter');
    await teaser.waitFor({ state: 'detached' });
    await page.reload();
    await page.waitForFunction(() => Boolean(window.LiveChat));
    await page.clock.runFor('00:06');
    await w.bubble.waitFor({ state: 'visible' });
    assert.equal(await teaser.count(), 0, 'a dismissed teaser is not shown again');

    // Opened: the start names the fired dialog, and the pricing dialog runs.
    await w.bubble.click();
    await w.card(TEASER);
    await eventually(() => starts.length === 1, 'a start');
    assert.deepEqual(starts[0].dialogs, ['pricing']);
    const ask = await w.card('Would you like to talk to someone about pricing?');
    await ask.getByRole('button', { name: 'No thanks', exact: true }).click();
    await w.card('Enjoy the tour!');
    await page.waitForFunction(() => JSON.parse(localStorage.getItem('livechat:done') || '[]').includes('pricing'));

    // Completed: on the pricing page nothing is offered again, on the home page the
    // sales dialog is.
    await w.bubble.click(); // closed
    await page.goto(`${gw.base}/pricing.html`);
    await page.waitForFunction(() => Boolean(window.LiveChat));
    await page.waitForFunction(() => !localStorage.getItem('livechat:visitor_token'));
    await page.clock.runFor('00:10');
    assert.equal(await w.bubble.isVisible(), false, 'a completed dialog is not offered again');
    assert.equal(await teaser.count(), 0);
    const before = starts.length;
    await page.goto(`${gw.base}/`);
    await w.bubble.click();
    await w.card('Would you like to talk to someone from sales?');
    await eventually(() => starts.length === before + 1, 'a start on the home page');
    assert.deepEqual(starts[before].dialogs, ['sales']);
    ok = true;
  } finally {
    if (!ok) await page.screenshot({ path: join(FAILURES, 'livechat-failure-dialogs.png') }).catch(() => {});
    dumpLogs(t, !ok);
  }
});

// If the runner is interrupted, do not leave the gateway behind.
process.once('exit', () => { if (gw && gw.child.exitCode === null) gw.child.kill('SIGKILL'); });

test('a live queue: with both agents at their limit, a visitor queued at number 2 moves to 1 and is offered when a chat ends', async (t) => {
  const { step, failed } = stepper(t);
  for (const ctx of contexts.splice(0)) await ctx.close().catch(() => {});
  // Its own gateway: the demo account with one chat per agent and a queue
  // (tests/browser/queue-config.yaml), and a table of its own when the gateways
  // keep state in DynamoDB Local (the test command sets DYNAMODB_ENDPOINT): the
  // other gateway's table already holds the demo account, which a first start
  // would keep.
  const qgw = await startGateway({
    DIRECTORY_PATH: join(HERE, 'queue-config.yaml'),
    TABLE_NAME: `livechat-browser-queue-${Date.now()}`,
  });
  const agents = {};
  const visitors = [];
  /** A visitor walks the demo dialog to the live chat card on the queue's gateway. */
  const reachLiveChat = async (n) => {
    const person = { name: `Q${n}`, email: `queue-${n}@example.com` };
    const w = widgetOf(await newPage(await newContext(), `queue-visitor-${n}`));
    await w.page.goto(`${qgw.base}/`);
    await w.page.waitForFunction(() => Boolean(window.LiveChat));
    await w.bubble.click();
    const ask = await w.card('Would you like to talk to someone from sales?');
    await ask.getByRole('button', { name: 'Yes', exact: true }).click();
    const name = await w.card("What's your first name?");
    await name.locator('input.lc-input').fill(person.name);
    await name.getByRole('button', { name: 'Send' }).click();
    const email = await w.card('What is your work email');
    await email.locator('input.lc-input').fill(person.email);
    await email.getByRole('button', { name: 'Send' }).click();
    const v = { ...person, w };
    visitors.push(v);
    return v;
  };
  /** The agent whose inbox shows an offer for `v`, once one does. */
  const offeredTo = async (v) => {
    const found = await Promise.any(Object.values(agents).map(async (a) => {
      await shows(a.offers, v.email);
      return a;
    }));
    return found;
  };
  const waitingText = (v) => v.w.panel.locator('.lc-waiting');
  try {
    await step('ana and ben sign in, available, and each takes a chat: both are at their limit of one', async () => {
      for (const id of ['ana', 'ben']) {
        const a = inboxOf(await newPage(await newContext(), `queue-${id}`), id, AGENT_NAMES[id]);
        await a.page.goto(qgw.inbox[id]);
        await a.page.locator('#ib-conn[data-state="open"]').waitFor();
        await a.page.locator('#ib-avail-wrap').waitFor();
        await setAvailable(a, true);
        agents[id] = a;
      }
      for (const n of [1, 2]) {
        const v = await reachLiveChat(n);
        const a = await offeredTo(v);
        await a.offers.filter({ hasText: v.email }).getByRole('button', { name: 'Accept' }).click();
        await shows(v.w.stream.locator('.lc-note'), `${a.name} joined the chat`);
        v.agent = a;
      }
      assert.notEqual(visitors[0].agent.id, visitors[1].agent.id, 'one chat each');
    });

    await step('a third visitor is number 1 in the queue and a fourth number 2; nobody is offered them', async () => {
      const third = await reachLiveChat(3);
      await shows(waitingText(third), 'You are number 1 in the queue');
      const fourth = await reachLiveChat(4);
      await shows(waitingText(fourth), 'You are number 2 in the queue');
      for (const a of Object.values(agents)) assert.equal(await a.offers.count(), 0, `${a.id} is offered nothing`);
      assert.equal((await fourth.w.stream.textContent()).includes('nobody is available'), false, 'no fallback');
    });

    await step('the first chat ends: its agent is offered the third visitor, and the fourth moves up to number 1', async () => {
      const [first, , third, fourth] = visitors;
      await first.agent.page.locator('#ib-end').click();
      await shows(first.w.stream.locator('.lc-note'), 'The chat has ended.');
      await shows(first.agent.offers, third.email);
      await shows(waitingText(fourth), 'You are number 1 in the queue');
      // One chat ended: the wait comes from its length, at least a minute.
      assert.match(await waitingText(fourth).textContent(), /You are number 1 in the queue, about 1 minute/);
      await first.agent.offers.filter({ hasText: third.email }).getByRole('button', { name: 'Accept' }).click();
      await shows(third.w.stream.locator('.lc-note'), `${first.agent.name} joined the chat`);
    });

    await step('the second chat ends: its agent is offered the fourth visitor', async () => {
      const [, second, , fourth] = visitors;
      await second.agent.page.locator('#ib-end').click();
      await shows(second.w.stream.locator('.lc-note'), 'The chat has ended.');
      await shows(second.agent.offers, fourth.email);
      await second.agent.offers.filter({ hasText: fourth.email }).getByRole('button', { name: 'Accept' }).click();
      await shows(fourth.w.stream.locator('.lc-note'), `${second.agent.name} joined the chat`);
    });
  } finally {
    dumpLogs(t, failed());
    for (const ctx of contexts.splice(0)) await ctx.close().catch(() => {});
    await stopGateway(qgw);
  }
});
