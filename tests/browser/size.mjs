// Measures what a visitor downloads for the widget: every module reachable from
// web/widget/livechat.js (the CSS lives inside render.js), bundled and minified by
// esbuild, then gzipped by node's zlib at level 9. Prints the sizes and exits non-zero
// when the gzipped bundle is over the budget (15 KB; Rocket.Chat's widget is over
// 150 KB gzipped). The served files stay plain modules: this bundle is only measured.
import { gzipSync } from 'node:zlib';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ENTRY = resolve(HERE, '../../web/widget/livechat.js');
export const BUDGET = 15 * 1024;

/** `{files, raw, minified, gzipped}` in bytes for the widget and everything it imports. */
export async function widgetSize() {
  const result = await build({
    entryPoints: [ENTRY], bundle: true, minify: true, format: 'esm', target: 'es2020', write: false, metafile: true, logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  const inputs = result.metafile.inputs;
  return {
    files: Object.keys(inputs).map((f) => f.replace(/^.*web\//, 'web/')),
    raw: Object.values(inputs).reduce((n, i) => n + i.bytes, 0),
    minified: code.length,
    gzipped: gzipSync(code, { level: 9 }).length,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const s = await widgetSize();
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`widget size: ${s.files.length} files (${s.files.join(', ')})`);
  console.log(`widget size: ${kb(s.raw)} source, ${kb(s.minified)} minified, ${kb(s.gzipped)} minified + gzipped (${s.gzipped} bytes; budget ${kb(BUDGET)})`);
  if (s.gzipped >= BUDGET) {
    console.error(`widget size: over the ${kb(BUDGET)} budget`);
    process.exit(1);
  }
}
