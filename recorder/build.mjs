// Bundles src/index.ts into one minified file, served by the service at GET /recorder.js.
// `node build.mjs` builds; importing it gives the options (bench/recorder_bundle.py does).
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
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

const withoutRrwebCanvas = {
  name: 'without-rrweb-canvas-recording',
  setup(bundle) {
    bundle.onLoad({ filter: /@rrweb[\\/]record[\\/]dist[\\/]record\.js$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      const contents = withoutCanvasRecording(source);
      if (contents === null) console.warn('build: rrweb canvas recording code not recognised; kept');
      return { contents: contents ?? source, loader: 'js' };
    });
  },
};

export const options = {
  entryPoints: [here('src/index.ts')],
  outfile: here('../service/static/recorder.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  sourcemap: 'linked',
  legalComments: 'none',
  plugins: [withoutRrwebCanvas],
  banner: {
    js: '/* ReplayDesk recorder. Includes rrweb (MIT License, Copyright (c) 2018 Contributors, https://github.com/rrweb-io/rrweb). */',
  },
  logLevel: 'warning',
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await build(options);
