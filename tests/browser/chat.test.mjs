// Real-browser end-to-end test: the local gateway (`livechat dev`), Debian's Chromium
// driven by playwright-core, the widget on the demo page and the Agent Inbox.
//
// One visitor walks the sales dialog (examples/sales-dialog.yaml) to a live chat with
// ana, they talk (links clickable, HTML inserted as text), the visitor reloads the page
// mid-chat (the stored visitor token resumes the conversation), and ana ends the
// session. Screenshots of both sides go to /tmp.
//
// Run: tests/browser/run.sh (installs and builds what is missing), or, with the
// gateway built and node_modules installed, `node --test tests/browser/`.
// LIVECHAT_BIN overrides the gateway binary, CHROMIUM_PATH the browser,
// LIVECHAT_SHOTS_DIR the screenshot folder (/tmp); LIVECHAT_E2E_VERBOSE=1 prints the
// WebSocket frames and console of both pages even when the test passes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const BIN = process.env.LIVECHAT_BIN
  || join(process.env.CARGO_TARGET_DIR ? resolve(REPO, process.env.CARGO_TARGET_DIR) : join(REPO, 'target'), 'debug', 'livechat');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const TIMEOUT = 10_000;
const SHOTS = process.env.LIVECHAT_SHOTS_DIR || tmpdir();

const VISITOR_NAME = 'Maria';
const BAD_EMAIL = 'maria-at-example';
const GOOD_EMAIL = 'maria@example.com';
const EMAIL_ERROR = 'enter an email address like name@example.com';
const LINK = 'https://example.com/pricing?plan=pro';
const VISITOR_TEXT = `Hi! I saw ${LINK} and <b>bold</b> claims`;
const AGENT_TEXT = `Happy to help, ${VISITOR_NAME}. The plans are at www.acme-analytics.example/plans`;
const AFTER_RELOAD_AGENT = 'Still there after the reload?';
const AFTER_RELOAD_VISITOR = 'Yes, still here.';

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

/** Starts `livechat dev` and resolves once every demo agent's inbox URL is printed. */
async function startGateway() {
  assert.ok(existsSync(BIN), `gateway binary ${BIN} is missing: run \`cargo build -p livechat-gateway\` (or tests/browser/run.sh)`);
  const port = await freePort();
  const child = spawn(BIN, ['dev', '--listen', `127.0.0.1:${port}`], {
    cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
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
      if (gw.base && ['ana', 'ben', 'cleo'].every((a) => gw.inbox[a])) {
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

async function gone(loc) {
  await loc.first().waitFor({ state: 'detached', timeout: TIMEOUT });
}

// ---- the test ------------------------------------------------------------------

let gw;
let browser;
const log = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (or run tests/browser/run.sh)`);
  gw = await startGateway();
  // Playwright gives every launch a fresh temporary --user-data-dir (under the OS
  // temp folder) and removes it on close; it refuses --user-data-dir in args.
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000,
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  if (gw) await stopGateway(gw);
});

test('a visitor chats with ana from the widget to the end of the session', async (t) => {
  const agentCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const visitorCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  agentCtx.setDefaultTimeout(TIMEOUT);
  visitorCtx.setDefaultTimeout(TIMEOUT);
  const inbox = await agentCtx.newPage();
  const visitor = await visitorCtx.newPage();
  watch(inbox, 'inbox', log);
  watch(visitor, 'widget', log);
  inbox.on('dialog', (d) => d.accept()); // "End this chat for the visitor?"

  let failed = false;
  const step = async (name, fn) => t.test(name, { skip: failed && 'an earlier step failed' }, async () => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      await inbox.screenshot({ path: join(SHOTS, 'livechat-inbox-failure.png') }).catch(() => {});
      await visitor.screenshot({ path: join(SHOTS, 'livechat-widget-failure.png') }).catch(() => {});
      throw e;
    }
  });

  // Widget elements live in an open shadow root; Playwright's CSS locators pierce it.
  const panel = visitor.locator('.lc-panel');
  const stream = panel.locator('.lc-stream');
  const card = (text) => stream.locator('.lc-card').filter({ hasText: text });
  const composer = panel.locator('.lc-compose textarea');
  const transcript = inbox.locator('#ib-transcript');

  try {
    await step('ana opens the inbox and is connected and available', async () => {
      await inbox.goto(gw.inbox.ana);
      await inbox.locator('#ib-conn[data-state="open"]').waitFor();
      assert.equal(await inbox.locator('#ib-conn').textContent(), 'Connected');
      await inbox.locator('#ib-avail:checked').waitFor();
      assert.equal(await inbox.locator('#ib-avail-text').textContent(), 'Available');
      await inbox.locator('#ib-main').waitFor();
      assert.equal(await inbox.locator('#ib-signin').isHidden(), true, 'the sign-in box is hidden');
      await shows(inbox.locator('#ib-me'), 'ana');
      assert.ok(!inbox.url().includes('token='), 'the token is taken out of the address bar');
    });

    await step('the visitor opens the widget and answers Yes', async () => {
      await visitor.goto(`${gw.base}/`);
      await visitor.waitForFunction(() => Boolean(window.LiveChat));
      await visitor.locator('.lc-bubble').click();
      await panel.waitFor();
      await shows(stream.locator('.lc-card'), 'Hi there! Thanks for taking a look at our pricing.');
      const ask = await shows(stream.locator('.lc-card'), 'Would you like to talk to someone from sales?');
      await ask.getByRole('button', { name: 'No thanks', exact: true }).waitFor();
      await ask.getByRole('button', { name: 'Yes', exact: true }).click();
      await ask.locator('.lc-btn-chosen', { hasText: 'Yes' }).waitFor();
    });

    await step('the visitor gives a first name', async () => {
      const first = await shows(stream.locator('.lc-card'), "What's your first name?");
      const input = first.locator('input.lc-input');
      assert.equal(await input.getAttribute('placeholder'), 'First name');
      await input.fill(VISITOR_NAME);
      await first.getByRole('button', { name: 'Send' }).click();
    });

    await step('a bad email is refused with an error, a good one is taken', async () => {
      const email = await shows(stream.locator('.lc-card'), `Thanks ${VISITOR_NAME}. What is your work email`);
      await email.locator('input.lc-input[type="email"]').fill(BAD_EMAIL);
      await email.getByRole('button', { name: 'Send' }).click();
      const error = await shows(card('What is your work email').locator('.lc-error[role="alert"]'), EMAIL_ERROR);
      assert.equal((await error.textContent()).trim(), EMAIL_ERROR);
      const retry = card('What is your work email');
      const input = retry.locator('input.lc-input');
      await input.and(visitor.locator(':enabled')).waitFor();
      assert.equal(await input.inputValue(), BAD_EMAIL, 'the refused value is kept for fixing');
      assert.equal(await input.getAttribute('aria-invalid'), 'true');
      await input.fill(GOOD_EMAIL);
      await retry.getByRole('button', { name: 'Send' }).click();
      await gone(stream.locator('.lc-error'));
    });

    await step('the widget waits for an agent', async () => {
      const live = await shows(stream.locator('.lc-card'), `Connecting you with someone from our sales team, ${VISITOR_NAME}`);
      await shows(live.locator('.lc-waiting'), 'Waiting for an agent');
      await shows(panel.locator('.lc-sub'), 'Connecting you to an agent');
      await panel.getByRole('button', { name: 'End chat' }).waitFor();
      assert.equal(await composer.isDisabled(), true, 'no typing before an agent joins');
      assert.equal(await composer.getAttribute('placeholder'), 'Waiting for an agent…');
      await panel.screenshot({ path: join(SHOTS, 'livechat-widget-waiting.png') });
    });

    await step("ana sees the offer with the visitor's name and accepts it", async () => {
      const offer = await shows(inbox.locator('#ib-offers .ib-offer'), VISITOR_NAME);
      await shows(offer.locator('.ib-offer-who'), GOOD_EMAIL);
      await shows(offer.locator('.ib-offer-count'), /^\d+(s|:\d\d)$/); // the countdown
      await inbox.screenshot({ path: join(SHOTS, 'livechat-inbox-offer.png') });
      await offer.getByRole('button', { name: 'Accept' }).click();
      await gone(inbox.locator('#ib-offers .ib-offer'));
      await shows(inbox.locator('#ib-active li .ib-name'), VISITOR_NAME);
      await shows(inbox.locator('#ib-chat-title'), VISITOR_NAME);
      await shows(inbox.locator('#ib-visitor-fields dd'), GOOD_EMAIL);
    });

    await step('the widget shows that Ana Lima joined', async () => {
      await shows(stream.locator('.lc-note'), 'Ana Lima joined the chat');
      await shows(panel.locator('.lc-title'), 'Ana Lima');
      await panel.locator('.lc-compose textarea:enabled').waitFor();
      assert.equal(await stream.locator('.lc-waiting').isHidden(), true, 'the waiting dots are gone');
    });

    await step('the visitor message reaches the inbox with a clickable link and no HTML', async () => {
      await composer.fill(VISITOR_TEXT);
      await composer.press('Enter');
      assert.equal(await composer.inputValue(), '', 'Enter sends and clears the box');
      const mine = await shows(stream.locator('.lc-msg-me'), '<b>bold</b>');
      await mine.and(visitor.locator(':not(.lc-msg-pending)')).waitFor();
      const msg = await shows(transcript.locator('.ib-msg'), '<b>bold</b>');
      const link = msg.locator('a');
      assert.equal(await link.count(), 1);
      assert.equal(await link.textContent(), LINK);
      assert.equal(await link.getAttribute('href'), LINK);
      assert.equal(await link.getAttribute('target'), '_blank');
      assert.equal(await transcript.locator('b').count(), 0, 'no <b> element in the inbox');
      assert.equal(await stream.locator('b').count(), 0, 'no <b> element in the widget');
      assert.ok((await msg.textContent()).includes(VISITOR_TEXT), 'the text is shown as typed');
      assert.equal(await msg.getAttribute('class'), 'ib-msg', 'shown as the visitor\'s message');
    });

    await step("ana's reply (Enter) reaches the widget", async () => {
      await inbox.locator('#ib-input').fill(AGENT_TEXT);
      await inbox.locator('#ib-input').press('Enter');
      const mine = await shows(transcript.locator('.ib-msg-me'), AGENT_TEXT);
      await mine.and(inbox.locator(':not(.ib-msg-pending)')).waitFor();
      const theirs = await shows(stream.locator('.lc-msg-them'), AGENT_TEXT);
      await shows(theirs.locator('.lc-meta'), 'Ana Lima');
      assert.equal(await theirs.locator('a').getAttribute('href'), 'https://www.acme-analytics.example/plans');
    });

    await step('a reload mid-chat resumes the conversation with its history', async () => {
      const token = await visitor.evaluate(() => localStorage.getItem('livechat:visitor_token'));
      assert.ok(token, 'the visitor token is stored');
      await visitor.reload();
      await panel.waitFor(); // the panel was open, so it opens again
      await shows(stream.locator('.lc-msg-me'), '<b>bold</b>');
      const theirs = await shows(stream.locator('.lc-msg-them'), AGENT_TEXT);
      await panel.locator('.lc-compose textarea:enabled').waitFor();
      await shows(panel.locator('.lc-title'), 'Ana Lima');
      await shows(theirs.locator('.lc-meta'), 'Ana Lima'); // named, not "Agent"
      await shows(stream.locator('.lc-note'), 'Ana Lima joined the chat');
      assert.equal(await stream.locator('.lc-note', { hasText: 'joined the chat' }).count(), 1, 'one "joined" note');
      const order = await stream.evaluate((s) => [...s.children].map((n) => n.className.split(' ')[0]));
      assert.ok(order.indexOf('lc-note') < order.lastIndexOf('lc-msg'), `the note comes before the agent's message: ${order}`);
      assert.equal(await stream.locator('.lc-waiting').isHidden(), true, 'not waiting any more');
      await panel.screenshot({ path: join(SHOTS, 'livechat-widget-resumed.png') });
      assert.equal(await stream.locator('.lc-msg').count(), 2, 'each message once');
      assert.equal(await stream.locator('.lc-msg-them a').getAttribute('href'), 'https://www.acme-analytics.example/plans');
      // The server may hand out a fresh token, but for the same visitor.
      const again = await visitor.evaluate(() => localStorage.getItem('livechat:visitor_token'));
      assert.equal(jwtSubject(again), jwtSubject(token), 'the same visitor');
      assert.equal(await stream.getByRole('button', { name: 'Yes', exact: true }).count(), 0, 'the dialog does not start over');

      // The resumed connection is live both ways.
      await inbox.locator('#ib-input').fill(AFTER_RELOAD_AGENT);
      await inbox.locator('#ib-input').press('Enter');
      await shows(stream.locator('.lc-msg-them'), AFTER_RELOAD_AGENT);
      await composer.fill(AFTER_RELOAD_VISITOR);
      await composer.press('Enter');
      await shows(transcript.locator('.ib-msg'), AFTER_RELOAD_VISITOR);
      await shows(inbox.locator('#ib-active li .ib-name'), VISITOR_NAME);
    });

    await step('ana ends the session and the widget shows the chat ended', async () => {
      await inbox.locator('#ib-end').click();
      await shows(stream.locator('.lc-note'), 'The chat has ended.');
      await stream.getByRole('button', { name: 'Start a new chat' }).waitFor();
      await panel.locator('.lc-compose textarea:disabled').waitFor();
      assert.equal(await composer.getAttribute('placeholder'), 'Chat ended');
      assert.equal(await panel.getByRole('button', { name: 'End chat' }).isHidden(), true);
      await shows(inbox.locator('#ib-chat-title'), 'ended');
      await shows(inbox.locator('#ib-past li .ib-name'), VISITOR_NAME);
      await inbox.locator('#ib-end').waitFor({ state: 'hidden' });
      await inbox.locator('#ib-input:disabled').waitFor();
      assert.equal(await inbox.locator('#ib-active li').count(), 0, 'no active chat left');
    });

    await step('no page errors, console errors or failed requests', async () => {
      const problems = log.filter((l) => / page error: | console\.error: | HTTP \d{3} /.test(l));
      assert.deepEqual(problems, []);
    });

    await step('screenshots of both sides', async () => {
      const inboxShot = join(SHOTS, 'livechat-inbox.png');
      const widgetShot = join(SHOTS, 'livechat-widget.png');
      await inbox.screenshot({ path: inboxShot });
      await visitor.screenshot({ path: widgetShot });
      t.diagnostic(`screenshots: ${inboxShot} ${widgetShot}`);
    });
  } finally {
    if (failed || process.env.LIVECHAT_E2E_VERBOSE) {
      t.diagnostic(`screenshots of the failure: ${join(SHOTS, 'livechat-inbox-failure.png')} ${join(SHOTS, 'livechat-widget-failure.png')}`);
      console.error(`---- browser log (${log.length} lines) ----\n${log.join('\n')}`);
      console.error(`---- gateway stderr (end) ----\n${gw.stderr.slice(-8000)}`);
    }
    await agentCtx.close().catch(() => {});
    await visitorCtx.close().catch(() => {});
  }
  assert.equal(failed, false, 'every step passed');
});

// If the runner is interrupted, do not leave the gateway behind.
process.once('exit', () => { if (gw && gw.child.exitCode === null) gw.child.kill('SIGKILL'); });
