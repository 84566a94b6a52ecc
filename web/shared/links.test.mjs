import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitLinks, safeHref } from './links.js';

const joined = (parts) => parts.map((p) => p.text).join('');

test('plain text stays one text part', () => {
  assert.deepEqual(splitLinks('hello there'), [{ type: 'text', text: 'hello there' }]);
});

test('empty and missing text give no parts', () => {
  assert.deepEqual(splitLinks(''), []);
  assert.deepEqual(splitLinks(null), []);
});

test('an http link in the middle becomes a link part', () => {
  const parts = splitLinks('see https://acme.com/pricing?x=1 now');
  assert.deepEqual(parts, [
    { type: 'text', text: 'see ' },
    { type: 'link', text: 'https://acme.com/pricing?x=1', href: 'https://acme.com/pricing?x=1' },
    { type: 'text', text: ' now' },
  ]);
});

test('trailing punctuation is not part of the link', () => {
  const parts = splitLinks('Book here: https://cal.example.com/acme-sales.');
  assert.equal(parts[1].text, 'https://cal.example.com/acme-sales');
  assert.equal(parts[2].text, '.');
});

test('an unbalanced closing bracket stays outside, a balanced one inside', () => {
  assert.equal(splitLinks('(see https://a.com/x)')[1].text, 'https://a.com/x');
  assert.equal(splitLinks('https://en.wikipedia.org/wiki/Foo_(bar)')[0].text,
    'https://en.wikipedia.org/wiki/Foo_(bar)');
});

test('www links get https and emails get mailto', () => {
  const parts = splitLinks('www.acme.com or ana@acme.com');
  assert.deepEqual(parts[0], { type: 'link', text: 'www.acme.com', href: 'https://www.acme.com/' });
  assert.deepEqual(parts[2], { type: 'link', text: 'ana@acme.com', href: 'mailto:ana@acme.com' });
});

test('html in text is kept as text, never turned into markup', () => {
  const text = '<img src=x onerror=alert(1)> https://a.com/"><script>';
  const parts = splitLinks(text);
  assert.equal(joined(parts), text);
  const link = parts.find((p) => p.type === 'link');
  assert.equal(link.text, 'https://a.com/');
});

test('joining the parts always gives the input back', () => {
  for (const t of ['a https://x.io b', 'x@y.co.', 'https://a.b/c, https://d.e/f!', 'javascript:alert(1)']) {
    assert.equal(joined(splitLinks(t)), t);
  }
});

test('only http, https and mailto links are allowed', () => {
  assert.equal(safeHref('javascript:alert(1)'), null);
  assert.equal(safeHref('data:text/html,hi'), null);
  assert.equal(safeHref('https://cal.example.com/x'), 'https://cal.example.com/x');
  assert.equal(safeHref(''), null);
  assert.equal(safeHref(null), null);
  assert.deepEqual(splitLinks('javascript:alert(1)'), [{ type: 'text', text: 'javascript:alert(1)' }]);
});
