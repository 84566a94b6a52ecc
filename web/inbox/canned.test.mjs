import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand, insert, matches, slashQuery } from './canned.js';

const lists = {
  own: [{ shortcut: 'pricing', text: 'My prices' }, { shortcut: 'hi', text: 'Hi {{visitor.first_name:"there"}}!' }],
  account: [{ shortcut: 'pricing', text: 'Account prices' }, { shortcut: 'plans', text: 'Plans' }],
};

test('a slash and a few letters at the end of the composer ask for matches, own first', () => {
  assert.equal(slashQuery('/pr'), 'pr');
  assert.equal(slashQuery('Sure: /'), '');
  assert.equal(slashQuery('a/b'), null, 'not after a word');
  assert.equal(slashQuery('/pr and more'), null, 'only at the end');
  assert.deepEqual(matches(lists, 'p').map((c) => c.text), ['My prices', 'Plans'], 'one per shortcut, the own one first');
  assert.deepEqual(matches(lists, 'x'), []);
});

test('tokens take the visitor’s value, else the fallback, else nothing', () => {
  assert.equal(expand('Hi {{visitor.first_name:"there"}}!', { name: 'Jo Silva' }), 'Hi Jo!');
  assert.equal(expand('Hi {{visitor.first_name:"there"}}!', {}), 'Hi there!');
  assert.equal(expand('At {{visitor.company}}.', { company: 'Acme' }), 'At Acme.');
  assert.equal(expand('At {{visitor.company}}.', {}), 'At .');
  assert.equal(insert('Sure. /hi', lists.own[1], { name: 'Jo' }), 'Sure. Hi Jo!');
});
