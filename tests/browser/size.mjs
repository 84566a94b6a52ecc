// Measures what a visitor downloads for the widget on first load: every module
// web/widget/livechat.js imports statically (the CSS lives inside render.js; a module
// imported only when needed, such as the teaser, is a chunk of its own, not counted),
// bundled and minified by esbuild, then gzipped by node's zlib at level 9, plus the largest of the language
// files (web/widget/lang/*.js, one fetched by a visitor whose language is not
// English), minified and gzipped on its own. Prints the sizes and exits non-zero
// when the first load, the visitor's language included, is over the budget (15 KB;
// Rocket.Chat's widget is over 150 KB gzipped). The served files stay plain
// modules: this bundle is only measured.
import { readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ENTRY = resolve(HERE, '../../web/widget/livechat.js');
export const BUDGET = 15 * 1024;
const LANG_DIR = resolve(HERE, '../../web/widget/lang');

/** `{lang, gzipped}`: the largest language file, minified and gzipped, in bytes. */
export async function largestLanguage() {
  let largest = { lang: 'en', gzipped: 0 };
  for (const file of readdirSync(LANG_DIR).filter((f) => f.endsWith('.js'))) {
    const result = await build({
      entryPoints: [resolve(LANG_DIR, file)], bundle: true, minify: true, format: 'esm', target: 'es2020', write: false, logLevel: 'silent',
    });
    const gzipped = gzipSync(result.outputFiles[0].contents, { level: 9 }).length;
    if (gzipped > largest.gzipped) largest = { lang: file.replace(/\.js$/, ''), gzipped };
  }
  return largest;
}

/**
 * `{files, raw, minified, gzipped, language, firstLoad}` in bytes for the widget and
 * everything it imports; `firstLoad` adds the largest language file (`language`).
 */
export async function widgetSize() {
  // Split as a browser loads it: what the entry imports statically comes on the
  // first load, a module it imports only when needed (the teaser) comes later.
  const result = await build({
    entryPoints: [ENTRY], bundle: true, splitting: true, outdir: resolve(HERE, 'size-out'), minify: true, format: 'esm', target: 'es2020',
    write: false, metafile: true, logLevel: 'silent',
  });
  const outputs = result.metafile.outputs;
  const first = new Set();
  const visit = (key) => {
    if (first.has(key)) return;
    first.add(key);
    for (const i of outputs[key].imports) if (i.kind === 'import-statement') visit(i.path);
  };
  visit(Object.keys(outputs).find((k) => outputs[k].entryPoint));
  const firstFiles = result.outputFiles.filter((f) => [...first].some((k) => resolve(k) === f.path));
  const code = Buffer.concat(firstFiles.map((f) => f.contents));
  const inputs = result.metafile.inputs;
  const gzipped = firstFiles.reduce((n, f) => n + gzipSync(f.contents, { level: 9 }).length, 0);
  const language = await largestLanguage();
  return {
    files: Object.keys(inputs).map((f) => f.replace(/^.*web\//, 'web/')),
    raw: Object.values(inputs).reduce((n, i) => n + i.bytes, 0),
    minified: code.length,
    gzipped,
    language,
    firstLoad: gzipped + language.gzipped,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const s = await widgetSize();
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`widget size: ${s.files.length} files (${s.files.join(', ')})`);
  console.log(`widget size: ${kb(s.raw)} source, ${kb(s.minified)} minified, ${kb(s.gzipped)} minified + gzipped (${s.gzipped} bytes)`);
  console.log(`widget size: first load with the largest language file (${s.language.lang}, ${s.language.gzipped} bytes): ${kb(s.firstLoad)} (${s.firstLoad} bytes; budget ${kb(BUDGET)})`);
  if (s.firstLoad >= BUDGET) {
    console.error(`widget size: over the ${kb(BUDGET)} budget`);
    process.exit(1);
  }
}
