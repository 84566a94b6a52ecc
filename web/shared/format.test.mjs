import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clockTime, countdown, dash } from './format.js';
import { tokenClaims } from './socket.js';

test('dash stands for a missing or empty value, and keeps zero', () => {
  assert.equal(dash(null), '-');
  assert.equal(dash(undefined), '-');
  assert.equal(dash(''), '-');
  assert.equal(dash(0), '0');
  assert.equal(dash('Jo'), 'Jo');
});

test('clockTime gives hours and minutes, nothing for an unreadable time', () => {
  assert.match(clockTime('2026-03-02T09:30:00Z'), /\d{1,2}.\d\d/);
  assert.equal(clockTime('not a time'), '');
  assert.equal(clockTime(undefined), '');
});

test('countdown: seconds under 100, then minutes and seconds, never negative', () => {
  assert.equal(countdown(42), '42s');
  assert.equal(countdown(99.4), '99s');
  assert.equal(countdown(100), '1:40');
  assert.equal(countdown(605), '10:05');
  assert.equal(countdown(-3), '0s');
  assert.equal(countdown(NaN), '');
});

test('token claims decode UTF-8 names; anything else gives no claims', () => {
  const b64url = (s) => Buffer.from(s, 'utf8').toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const jwt = (claims) => `h.${b64url(JSON.stringify(claims))}.sig`;
  assert.deepEqual(tokenClaims(jwt({ sub: 'zoe', name: 'Zoë Ærø 東京', exp: 1 })), { sub: 'zoe', name: 'Zoë Ærø 東京', exp: 1 });
  assert.deepEqual(tokenClaims('not-a-token'), {});
  assert.deepEqual(tokenClaims(`h.${b64url('null')}.s`), {});
  assert.deepEqual(tokenClaims(`h.${Buffer.from([0xff, 0xfe]).toString('base64')}.s`), {}, 'not UTF-8');
  assert.deepEqual(tokenClaims(null), {});
});
