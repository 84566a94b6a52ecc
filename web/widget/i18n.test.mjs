import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { EN, LANGUAGES, format, loadStrings, normalTag, pickLanguage, uiLanguage, waitingText } from './i18n.js';

test('data-lang comes before the page language, which comes before the browser', () => {
  const all = { dataLang: 'fr', htmlLang: 'de', navigatorLanguages: ['es-ES', 'en'] };
  assert.deepEqual(pickLanguage(all), { tag: 'fr', ui: 'fr' });
  assert.deepEqual(pickLanguage({ ...all, dataLang: '' }), { tag: 'de', ui: 'de' });
  assert.deepEqual(pickLanguage({ ...all, dataLang: undefined, htmlLang: '' }), { tag: 'es-es', ui: 'es' });
  assert.deepEqual(pickLanguage({}), { tag: 'en', ui: 'en' });
});

test('a region falls back to its language and an unknown language to English', () => {
  assert.deepEqual(pickLanguage({ htmlLang: 'pt-BR' }), { tag: 'pt-br', ui: 'pt' });
  assert.deepEqual(pickLanguage({ dataLang: 'de_CH' }), { tag: 'de-ch', ui: 'de' });
  // The page's Arabic goes to the server (a dialog may be written in it); the
  // widget's own strings are English.
  assert.deepEqual(pickLanguage({ htmlLang: 'ar' }), { tag: 'ar', ui: 'en' });
  assert.equal(uiLanguage('ja-jp'), 'en');
});

test('the browser list gives the first language the widget speaks', () => {
  assert.deepEqual(pickLanguage({ navigatorLanguages: ['ja', 'pt-PT', 'de'] }), { tag: 'pt-pt', ui: 'pt' });
  assert.deepEqual(pickLanguage({ navigatorLanguages: ['ja'] }), { tag: 'ja', ui: 'en' });
});

test('a malformed tag is not a language and the next source is asked', () => {
  for (const bad of ['x', 'de at', '<b>', 'de-', `de${'-abcdefgh'.repeat(4)}`]) assert.equal(normalTag(bad), null, bad);
  assert.deepEqual(pickLanguage({ dataLang: 'de at', htmlLang: 'es' }), { tag: 'es', ui: 'es' });
});

test('format fills its values and a missing string is the English one', () => {
  assert.equal(format(EN, 'agentJoined', { name: 'Ana' }), 'Ana joined the chat');
  assert.equal(format({ title: 'Hallo' }, 'send'), 'Send');
  assert.equal(format(EN, 'typing', {}), '{name} is typing…');
});

test('every language file has exactly the English keys, each translated', async () => {
  const files = readdirSync(new URL('./lang/', import.meta.url)).filter((f) => f.endsWith('.js')).sort();
  assert.deepEqual(files, LANGUAGES.filter((l) => l !== 'en').map((l) => `${l}.js`).sort());
  for (const lang of LANGUAGES.filter((l) => l !== 'en')) {
    const { default: strings } = await import(`./lang/${lang}.js`);
    assert.deepEqual(Object.keys(strings).sort(), Object.keys(EN).sort(), lang);
    for (const [key, text] of Object.entries(strings)) {
      const marks = (s) => (s.match(/\{\w+\}/g) || []).sort();
      assert.deepEqual(marks(text), marks(EN[key]), `${lang}.${key} keeps the {marks}`);
    }
    const translated = Object.keys(EN).filter((k) => strings[k] !== EN[k]);
    assert.ok(translated.length > Object.keys(EN).length * 0.9, `${lang}: ${translated.length} translated`);
  }
});

test('loadStrings fetches the language file and falls back to English', async () => {
  assert.equal(await loadStrings('en'), EN);
  const de = await loadStrings('de');
  assert.equal(de.send, 'Senden');
  assert.equal(await loadStrings('de', 'file:///nowhere/i18n.js'), EN);
  assert.equal(await loadStrings('xx'), EN);
});

test('a queued visitor reads their place and the wait in whole minutes, at least one', async () => {
  assert.equal(waitingText(EN, { position: null }), 'Waiting for an agent…');
  assert.equal(waitingText(EN, { position: 2 }), 'You are number 2 in the queue');
  assert.equal(waitingText(EN, { position: 2, estimated_wait_seconds: 480 }), 'You are number 2 in the queue, about 8 minutes');
  assert.equal(waitingText(EN, { position: 1, estimated_wait_seconds: 61 }), 'You are number 1 in the queue, about 2 minutes');
  assert.equal(waitingText(EN, { position: 1, estimated_wait_seconds: 0 }), 'You are number 1 in the queue, about 1 minute');
  const de = await loadStrings('de');
  assert.equal(waitingText(de, { position: 3, estimated_wait_seconds: 600 }), 'Sie sind Nummer 3 in der Warteschlange, etwa 10 Minuten');
});

test('a waiting frame with a made-up place or wait says no more than waiting', () => {
  for (const position of [0, -1, 1.5, '2', '<b>1</b>', {}, Number.NaN, 2 ** 60]) {
    assert.equal(waitingText(EN, { position }), 'Waiting for an agent…', String(position));
  }
  for (const secs of ['600', -5, Number.POSITIVE_INFINITY, null, {}]) {
    assert.equal(waitingText(EN, { position: 1, estimated_wait_seconds: secs }), 'You are number 1 in the queue', String(secs));
  }
});
