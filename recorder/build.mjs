// Bundles src/index.ts into one minified file, served by the service at GET /recorder.js.
// `node build.mjs` builds; importing it gives `bundle` (the bench bundles rrweb alone with it).
import { build } from 'esbuild';
import { minify } from 'terser';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

// Canvas recording is off (a canvas can show anything, and its pixels cost the most bytes), but
// rrweb's record() always builds its CanvasManager, which keeps the canvas observers and the
// source of their image-encoding worker (~2 KB gzipped in all) in any bundle. This plugin gives
// record() a CanvasManager with the same methods and no canvas code, and drops the worker's
// inlined source, so esbuild can leave the rest out. If rrweb changes shape, the build keeps
// rrweb as it is and says so.
const CANVAS_MANAGER_METHODS = ['freeze', 'lock', 'reset', 'unfreeze', 'unlock'];
const IDLE_CANVAS_MANAGER = `class CanvasManager { ${CANVAS_MANAGER_METHODS.map((m) => `${m}() {}`).join(' ')} }\n`;

function withoutCanvasRecording(source) {
  const start = source.indexOf('\nclass CanvasManager {\n');
  const end = start < 0 ? -1 : source.indexOf('\n}\n', start);
  const called = new Set([...source.matchAll(/canvasManager\.(\w+)/g)].map((m) => m[1]));
  const sameMethods = [...called].every((m) => CANVAS_MANAGER_METHODS.includes(m));
  if (end < 0 || !sameMethods) return null;
  const contents = source.slice(0, start + 1) + IDLE_CANVAS_MANAGER + source.slice(end + 3);
  return contents.replace(/^const jsContent = '.*';$/m, "const jsContent = '';");
}

// rrweb's record() tells its replay-side virtual DOM nodes (rrdom) from real ones with
// `instanceof BaseRRNode`, which keeps that class (~0.3 KB gzipped) in the bundle; none is ever
// made while recording. An empty class answers the same `instanceof` for every real node.
function withoutRRDomNode(source) {
  const start = source.indexOf('\nclass BaseRRNode {\n');
  const end = start < 0 ? -1 : source.indexOf('\n}\n', start);
  const uses = source.match(/\bBaseRRNode\b/g)?.length;
  const onlyInstanceof = source.match(/instanceof BaseRRNode\b/g)?.length === uses - 1;
  if (end < 0 || !onlyInstanceof) return null;
  return source.slice(0, start + 1) + 'class BaseRRNode {}\n' + source.slice(end + 3);
}

const withoutUnusedRrweb = {
  name: 'without-unused-rrweb-code',
  setup(bundle) {
    bundle.onLoad({ filter: /@rrweb[\\/]record[\\/]dist[\\/]record\.js$/ }, async ({ path }) => {
      let contents = await readFile(path, 'utf8');
      for (const [cut, what] of [
        [withoutCanvasRecording, 'canvas recording code'],
        [withoutRRDomNode, 'rrdom node class'],
      ]) {
        const shorter = cut(contents);
        if (shorter === null) console.warn(`build: rrweb ${what} not recognised; kept`);
        contents = shorter ?? contents;
      }
      return { contents, loader: 'js' };
    });
  },
};

const BANNER =
  '/* ReplayDesk recorder. Includes rrweb (MIT License, Copyright (c) 2018 Contributors, https://github.com/rrweb-io/rrweb). */';

export const options = {
  entryPoints: [here('src/index.ts')],
  bundle: true,
  format: 'iife',
  target: 'es2020',
  sourcemap: 'external',
  minifySyntax: true,
  legalComments: 'none',
  plugins: [withoutUnusedRrweb],
  logLevel: 'warning',
  write: false,
  outfile: here('../service/static/recorder.js'),
};

// esbuild bundles and simplifies syntax; terser minifies: about 5% fewer bytes after gzip than
// esbuild's own minifier (two compress passes, none of terser's "unsafe" rewrites). Every
// visitor of a recorded site downloads this file.
export async function bundle(buildOptions = options) {
  const out = await build(buildOptions);
  const code = out.outputFiles.find((f) => f.path.endsWith('.js')).text;
  const map = out.outputFiles.find((f) => f.path.endsWith('.js.map'))?.text;
  const minified = await minify(code, {
    ecma: 2020,
    compress: { passes: 2 },
    mangle: true,
    format: { preamble: BANNER },
    sourceMap: map ? { content: map, url: 'recorder.js.map' } : false,
  });
  return { code: minified.code, map: minified.map };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { code, map } = await bundle();
  await writeFile(options.outfile, code);
  await writeFile(options.outfile + '.map', map);
}
