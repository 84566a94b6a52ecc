import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_NOTE_CHARS, agentChoices, offerHeading, statusLine, transferFrame } from './transfer.js';

test('the form sends a transfer to an agent or a team with its note, and nothing it cannot send', () => {
  assert.deepEqual(transferFrame('c1', 'agent', ' ben ', ' call back '), {
    action: 'transfer', conversation: 'c1', to: { agent: 'ben' }, note: 'call back',
  });
  assert.deepEqual(transferFrame('c1', 'team', 'sales', ''), { action: 'transfer', conversation: 'c1', to: { team: 'sales' } });
  assert.equal(transferFrame('c1', 'agent', '  ', 'x'), null);
  assert.equal(transferFrame('c1', 'rule', 'x', ''), null);
  assert.equal(transferFrame(null, 'agent', 'ben', ''), null);
  assert.ok(transferFrame('c1', 'agent', 'ben', 'é'.repeat(MAX_NOTE_CHARS)));
  assert.equal(transferFrame('c1', 'agent', 'ben', 'é'.repeat(MAX_NOTE_CHARS + 1)), null);
});

test('a transfer offer names its sender and note as text, a new chat as before', () => {
  const note = '<img src=x onerror=alert(1)>';
  assert.equal(offerHeading({ attempt: 1, transfer: { from: 'ana', from_name: 'Ana Lima', note } }), `Transfer from Ana Lima: ${note} — `);
  assert.equal(offerHeading({ attempt: 1, transfer: { from: 'ana', note: '' } }), 'Transfer from ana: ');
  assert.equal(offerHeading({ attempt: 1 }), 'New chat: ');
  assert.equal(offerHeading({ attempt: 2 }), 'New chat (re-offered): ');
});

test('the agents to pick are the live view’s, without oneself, by name', () => {
  const live = { agents: [{ agent: 'cleo', name: 'Cleo Martin' }, { agent: 'ana', name: 'Ana Lima' }, { agent: 'ben', name: 'Ben Okafor' }] };
  assert.deepEqual(agentChoices(live, 'ana'), [
    { id: 'ben', label: 'Ben Okafor (ben)' },
    { id: 'cleo', label: 'Cleo Martin (cleo)' },
  ]);
  assert.deepEqual(agentChoices(null, 'ana'), []);
});

test('the sender sees the transfer pending, accepted, declined, timed out or why it was not sent', () => {
  assert.equal(statusLine({ type: 'transfer_pending', to: 'ben', to_name: 'Ben Okafor' }), 'Transfer to Ben Okafor: waiting for them to accept…');
  assert.equal(statusLine({ type: 'transfer_ended', outcome: 'accepted', to_name: 'Ben Okafor' }), 'Transfer to Ben Okafor: accepted.');
  assert.equal(statusLine({ type: 'transfer_ended', outcome: 'declined', to_name: 'Ben Okafor' }), 'Transfer to Ben Okafor: declined; the chat stays yours.');
  assert.equal(statusLine({ type: 'transfer_ended', outcome: 'timed_out', to_name: 'Ben Okafor' }), 'Transfer to Ben Okafor: timed out; the chat stays yours.');
  assert.equal(statusLine({ type: 'transfer_failed', reason: 'at_limit' }), 'Transfer not sent: that agent is at their chat limit.');
  assert.equal(statusLine({ type: 'transfer_failed', reason: 'new_reason' }), 'Transfer not sent: new_reason.');
  assert.equal(statusLine({ type: 'message' }), null);
});
