import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BRANDING, colourProblem, contrast, parseHex, pickText, resolveBranding, safeAvatar } from './branding.js';

const PAGE = 'https://www.acme.example/pricing';

function resolve(site, data) {
  const warnings = [];
  const branding = resolveBranding(site, data, { lang: 'de-at', base: PAGE, warn: (w) => warnings.push(w) });
  return { branding, warnings };
}

test('contrast follows WCAG 2.x with the same ratios as the server', () => {
  assert.equal(Math.round(contrast('#000', '#fff') * 100) / 100, 21);
  assert.equal(Math.round(contrast('#777777', '#ffffff') * 100) / 100, 4.48);
  assert.equal(Math.round(contrast('#767676', '#ffffff') * 100) / 100, 4.54);
  assert.equal(contrast('#ffffff', '#767676'), contrast('#767676', '#ffffff'));
  assert.ok(Number.isNaN(contrast('red', '#fff')));
  assert.equal(colourProblem('#777777', '#ffffff'), "accent #777777 on #ffffff text has contrast 4.47:1, below WCAG's 4.5:1");
  assert.equal(colourProblem('#767676', '#ffffff'), null);
  assert.deepEqual(parseHex('#ABC'), [170, 187, 204]);
  for (const bad of ['3b5bdb', '#3b5bd', '#3b5bdbff', 'url(x)', '#fff;background:red', null, 7]) assert.equal(parseHex(bad), null, String(bad));
});

test('no site branding and no attributes keep the widget\'s own look', () => {
  const { branding, warnings } = resolve(null, {});
  assert.deepEqual(branding, { ...DEFAULT_BRANDING, ink: DEFAULT_BRANDING.accent });
  assert.deepEqual(warnings, []);
});

test('the configured branding applies and a data attribute overrides each field', () => {
  const site = {
    accent: '#0b7285', accent_text: '#ffffff', position: 'left', offset: { x: 24, y: 96 },
    title: { en: 'Talk to sales', de: 'Vertrieb' }, subtitle: 'Minutes', launcher_label: 'Chat', avatar: 'https://cdn.acme.example/a.png',
  };
  const configured = resolve(site, {}).branding;
  assert.equal(configured.accent, '#0b7285');
  assert.equal(configured.position, 'left');
  assert.deepEqual([configured.x, configured.y], [24, 96]);
  assert.equal(configured.title, 'Vertrieb', 'de-at picks de');
  assert.equal(configured.avatar, 'https://cdn.acme.example/a.png');

  const { branding, warnings } = resolve(site, {
    accent: '#5f3dc4', position: 'right', offsetX: '0', offsetY: '200', title: 'Sales', subtitle: 'Now', launcherLabel: 'Help', avatar: '/team.png',
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(
    [branding.accent, branding.accentText, branding.position, branding.x, branding.y, branding.title, branding.subtitle, branding.launcherLabel, branding.avatar],
    ['#5f3dc4', '#ffffff', 'right', 0, 200, 'Sales', 'Now', 'Help', 'https://www.acme.example/team.png'],
  );
});

test('a low-contrast or malformed override falls back to the configured value with a warning naming why', () => {
  const site = { accent: '#0b7285' };
  const low = resolve(site, { accent: '#ffcc00' });
  assert.equal(low.branding.accent, '#0b7285');
  assert.deepEqual(low.warnings, ["livechat: data-accent ignored: accent #ffcc00 on #ffffff text has contrast 1.51:1, below WCAG's 4.5:1; the configured value is kept"]);
  // Dark text makes the same yellow readable.
  const dark = resolve(site, { accent: '#ffcc00', accentText: '#1f2430' });
  assert.deepEqual([dark.branding.accent, dark.branding.accentText, dark.warnings], ['#ffcc00', '#1f2430', []]);
  assert.equal(dark.branding.ink, '#1f2430', 'yellow is no text colour on white');

  const bad = resolve(site, {
    accent: 'red;background:url(x)', position: 'top', offsetX: '201', offsetY: '-1', title: 'x'.repeat(61), launcherLabel: ' ', avatar: 'javascript:alert(1)',
  });
  assert.equal(bad.warnings.length, 7, bad.warnings.join('\n'));
  assert.match(bad.warnings[0], /data-accent ignored: accent "red;background:u" is not a hex colour/);
  assert.deepEqual(
    [bad.branding.accent, bad.branding.position, bad.branding.x, bad.branding.y, bad.branding.title, bad.branding.launcherLabel, bad.branding.avatar],
    ['#0b7285', 'right', 20, 20, null, null, null],
  );
});

test('a damaged site branding is dropped without a warning and the widget keeps its look', () => {
  const { branding, warnings } = resolve({ accent: '#ffcc00', position: 7, offset: { x: 1e9 }, title: { de: 5 }, avatar: 'http://cdn.example/a.png' }, {});
  assert.deepEqual(branding, { ...DEFAULT_BRANDING, ink: DEFAULT_BRANDING.accent });
  assert.deepEqual(warnings, []);
});

test('an avatar is an https address or one of the page\'s own origin, and texts pick the visitor\'s language', () => {
  assert.equal(safeAvatar('https://cdn.example/a.png', PAGE), 'https://cdn.example/a.png');
  assert.equal(safeAvatar('/a.png', 'http://127.0.0.1:8080/'), 'http://127.0.0.1:8080/a.png');
  for (const bad of ['http://cdn.example/a.png', 'data:image/png;base64,AAAA', 'javascript:alert(1)', `https://x.example/${'a'.repeat(1024)}`, '']) {
    assert.equal(safeAvatar(bad, PAGE), null, bad.slice(0, 40));
  }
  assert.equal(pickText({ en: 'Hi', 'pt-br': 'Oi' }, 'pt-br'), 'Oi');
  assert.equal(pickText({ en: 'Hi', de: 'Hallo' }, 'fr'), 'Hi');
  assert.equal(pickText({ de: 'Hallo' }, 'fr'), 'Hallo');
  assert.equal(pickText('Hi', 'fr'), 'Hi');
});
