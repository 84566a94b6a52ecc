import test from 'node:test';
import assert from 'node:assert/strict';
import { audienceLines, conditionText, diagramSrc, dialogsFrame, dialogsModel } from './dialogs.js';

test('the list and one dialog are asked for with the same action', () => {
  assert.deepEqual(dialogsFrame(), { action: 'dialogs' });
  assert.deepEqual(dialogsFrame('pricing'), { action: 'dialogs', dialog: 'pricing' });
});

test('an audience without pages targets every page', () => {
  assert.deepEqual(audienceLines({}), ['Pages: every page']);
});

test('an audience lists its pages, triggers and conditions in words', () => {
  const lines = audienceLines({
    include: ['acme.example/pricing*'],
    exclude: ['acme.example/pricing/old'],
    min_seconds_on_page: 5,
    min_scroll_percent: 50,
    conditions: [
      { attribute: 'company_size', operator: 'greater', value: 100 },
      { attribute: 'country', operator: 'in_list', value: ['de', 'fr'] },
      { attribute: 'email', operator: 'is_empty' },
    ],
  });
  assert.deepEqual(lines, [
    'Pages: acme.example/pricing*',
    'Not on: acme.example/pricing/old',
    'After 5 s on the page',
    'After scrolling 50% of the page',
    'When company_size is more than 100',
    'When country is one of de, fr',
    'When email is empty',
  ]);
});

test('an unknown operator is shown as it came', () => {
  assert.equal(conditionText({ attribute: 'a', operator: 'matches', value: 'x' }), 'a matches x');
});

test('dialogs are listed highest priority first, ties in file order', () => {
  const rows = dialogsModel({
    dialogs: [
      { id: 'sales', priority: 0 },
      { id: 'pricing', priority: 10, teaser: true },
      { id: 'other', priority: 0, warnings: ['overlaps sales at priority 0'] },
    ],
  });
  assert.deepEqual(rows.map((r) => r.id), ['pricing', 'sales', 'other']);
  assert.equal(rows[0].teaser, 'teaser');
  assert.equal(rows[1].status, 'valid');
  assert.equal(rows[2].status, 'valid, 1 warning');
  assert.deepEqual(rows[2].notes, ['overlaps sales at priority 0']);
});

test('a dialog with problems says how many', () => {
  const [row] = dialogsModel({ dialogs: [{ id: 'd', problems: ['a', 'b'] }] });
  assert.equal(row.status, '2 problems');
});

test('the diagram becomes an image address, its markup escaped', () => {
  const src = diagramSrc('<svg><text>a & "b"</text></svg>');
  assert.ok(src.startsWith('data:image/svg+xml;charset=utf-8,'));
  assert.ok(!src.includes('<'));
  assert.equal(decodeURIComponent(src.split(',')[1]), '<svg><text>a & "b"</text></svg>');
});
