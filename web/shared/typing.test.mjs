import { test } from 'node:test';
import assert from 'node:assert/strict';
import { typingThrottle } from './typing.js';

/** A clock and timers the test moves by hand. */
function fakeTime() {
  const t = { now: 1_000_000, timers: new Map(), id: 0 };
  t.setTimer = (fn, ms) => { t.id += 1; t.timers.set(t.id, { fn, at: t.now + ms }); return t.id; };
  t.clearTimer = (id) => t.timers.delete(id);
  t.advance = (ms) => {
    t.now += ms;
    for (const [id, timer] of [...t.timers]) if (timer.at <= t.now) { t.timers.delete(id); timer.fn(); }
  };
  return t;
}

test('typing: true at once, then at most once every 3 s while keys are pressed', () => {
  const t = fakeTime();
  const sent = [];
  const typing = typingThrottle((on) => sent.push(on), { now: () => t.now, setTimer: t.setTimer, clearTimer: t.clearTimer });
  typing.input();
  assert.deepEqual(sent, [true]);
  for (let i = 0; i < 10; i += 1) { t.advance(250); typing.input(); } // 2.5 s of keys
  assert.deepEqual(sent, [true]);
  t.advance(600); // 3.1 s since the first
  typing.input();
  assert.deepEqual(sent, [true, true]);
});

test('typing: false after 4 s without a key, and when the message is sent, once', () => {
  const t = fakeTime();
  const sent = [];
  const typing = typingThrottle((on) => sent.push(on), { now: () => t.now, setTimer: t.setTimer, clearTimer: t.clearTimer });
  typing.input();
  t.advance(3999);
  assert.deepEqual(sent, [true]);
  t.advance(1);
  assert.deepEqual(sent, [true, false]);
  typing.stop();
  assert.deepEqual(sent, [true, false], 'no second false');
  typing.input(); // typing again right away: true again, no wait
  assert.deepEqual(sent, [true, false, true]);
  typing.stop();
  assert.deepEqual(sent, [true, false, true, false]);
  t.advance(10_000);
  assert.deepEqual(sent, [true, false, true, false], 'the idle timer went with the stop');
  assert.equal(t.timers.size, 0);
});

test('typing: sending without having typed sends nothing', () => {
  const sent = [];
  typingThrottle((on) => sent.push(on)).stop();
  assert.deepEqual(sent, []);
});
