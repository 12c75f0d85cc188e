// Bundles src/index.ts into one minified file, served by the service at GET /recorder.js.
// `node build.mjs` builds; importing it gives the options (bench/recorder_bundle.py does).
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

// rrweb inlines the source of its canvas-encoding worker (~3 KB) and turns it into a Blob as
// soon as it loads. Canvas recording is off here, so the worker is never started: its source
// is left out. If rrweb changes shape, the build goes on with the worker in and says so.
const withoutCanvasWorker = {
  name: 'without-rrweb-canvas-worker',
  setup(bundle) {
    bundle.onLoad({ filter: /@rrweb[\\/]record[\\/]dist[\\/]record\.js$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      const contents = source.replace(/^const jsContent = '.*';$/m, "const jsContent = '';");
      if (contents === source) console.warn('build: rrweb canvas worker source not found; kept');
      return { contents, loader: 'js' };
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
  plugins: [withoutCanvasWorker],
  banner: {
    js: '/* ReplayDesk recorder. Includes rrweb (MIT License, Copyright (c) 2018 Contributors, https://github.com/rrweb-io/rrweb). */',
  },
  logLevel: 'warning',
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await build(options);
