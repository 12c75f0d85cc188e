// Bundles the replay page and the Zendesk sidebar (each its own script and styles) into the
// service's static folder (a build output, not committed).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const out = fileURLToPath(new URL("../service/static/", import.meta.url));

await build({
  entryPoints: { viewer: "src/main.ts", sidebar: "src/sidebar/main.ts" },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "iife",
  target: ["es2020"],
  outdir: out,
  legalComments: "linked",
  logLevel: "warning",
});
