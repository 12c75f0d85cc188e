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
  plugins: [withoutRrwebCanvas],
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
