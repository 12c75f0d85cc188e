// Bundles the peers that ship as npm modules (Sentry) the way a site would: one minified
// script. PostHog is served as it ships (array.js, and the recorder it loads lazily from
// /static/<version>/lazy-recorder.js).
// Prints {name: code} as JSON.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const out = await build({
  entryPoints: [here('sentry.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
});
const posthog = (name) => readFile(here(`node_modules/posthog-js/dist/${name}`), 'utf8');
console.log(
  JSON.stringify({
    'sentry.js': out.outputFiles[0].text,
    'posthog.js': await posthog('array.js'),
    'lazy-recorder.js': await posthog('lazy-recorder.js'),
  }),
);
