// Builds the storefront and the admin console into web/dist (served by `meridian serve`, src/web/web.c):
// esbuild bundles each page's script (and the proof-of-work worker) with a content hash in the file
// name; the HTML pages name those files; every file gets precompressed .br and .gz twins.
//   node web/build.mjs [--out DIR]
import * as esbuild from 'esbuild';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outArg = process.argv.indexOf('--out');
const out = resolve(outArg > 0 ? process.argv[outArg + 1] : join(here, 'dist'));
const assets = join(out, 'assets');
const BUDGET = 60 * 1024; // each page's JavaScript, compressed (brotli)

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const common = {
  bundle: true, minify: true, format: 'esm', target: ['es2020'], outdir: assets, entryNames: '[name]-[hash]',
  metafile: true, legalComments: 'none', logLevel: 'warning',
};
const outputOf = (meta, entry) => basename(Object.entries(meta.outputs).find(([, o]) => o.entryPoint === entry)[0]);

// The worker first: the storefront names its hashed file.
const w = await esbuild.build({ ...common, entryPoints: ['web/src/pow-worker.js'], format: 'iife' });
const worker = outputOf(w.metafile, 'web/src/pow-worker.js');

const pages = [
  { name: 'index.html', entry: 'web/src/store.js', title: 'Meridian', lang: 'en' },
  { name: 'admin.html', entry: 'web/src/admin.js', title: 'Meridian console', lang: 'en' },
];
const b = await esbuild.build({
  ...common, entryPoints: [...pages.map((p) => p.entry), 'web/src/style.css'], splitting: true,
  chunkNames: 'chunk-[hash]', define: { POW_WORKER_URL: JSON.stringify(`/assets/${worker}`) },
});
const css = outputOf(b.metafile, 'web/src/style.css');

for (const p of pages) {
  const js = outputOf(b.metafile, p.entry);
  const imports = b.metafile.outputs[`web/dist/assets/${js}`]?.imports ?? Object.values(b.metafile.outputs)
    .find((o) => o.entryPoint === p.entry).imports;
  const preload = imports.filter((i) => i.kind === 'import-statement')
    .map((i) => `<link rel="modulepreload" href="/assets/${basename(i.path)}">`).join('');
  p.files = [js, ...imports.filter((i) => i.kind === 'import-statement').map((i) => basename(i.path))];
  writeFileSync(join(out, p.name), `<!doctype html>
<html lang="${p.lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${p.title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${css}">
<link rel="modulepreload" href="/assets/${js}">${preload}${p.name === 'index.html' ? '\n<link rel="preload" href="/api/v1/countries" as="fetch" crossorigin>' : ''}
<script type="module" src="/assets/${js}"></script>
</head><body><div id="app"><p class="boot">Loading…</p></div>
<noscript>This page needs JavaScript; the API is documented in docs/openapi.yaml.</noscript>
</body></html>
`);
}

// Precompressed twins of every file; the server picks the smallest the client accepts.
const sizes = {};
for (const dir of [out, assets]) {
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    if (!f.isFile() || f.name.endsWith('.map')) continue;
    const path = join(dir, f.name);
    const data = readFileSync(path);
    const br = brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } });
    writeFileSync(`${path}.br`, br);
    writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
    sizes[f.name] = br.length;
  }
}
let over = false;
for (const p of pages) {
  const total = p.files.reduce((n, f) => n + sizes[f], 0) + (p.name === 'index.html' ? sizes[worker] : 0);
  console.log(`web: ${p.name} ${(total / 1024).toFixed(1)} kB of JavaScript (brotli)`);
  if (total > BUDGET) { console.error(`web: ${p.name} is over the ${BUDGET / 1024} kB budget`); over = true; }
}
writeFileSync(join(out, 'sizes.json'), JSON.stringify(Object.fromEntries(pages.map((p) => [p.name, p.files])), null, 1));
if (over) process.exit(1);
