// Builds the dashboard into dist/: index.html, app.js (one minified ESM bundle) and app.css.
// The output is deterministic (no timestamps, hashes of paths or source maps), so rebuilding
// from the same sources and lockfile gives byte-identical files.
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
// DASHBOARD_OUT builds elsewhere (the freshness test compares that build with the committed dist/).
const dist = process.env.DASHBOARD_OUT ?? join(root, "dist");

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

await esbuild.build({
  absWorkingDir: root,
  entryPoints: { app: "src/main.tsx" },
  outdir: dist,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: true,
  sourcemap: false,
  jsx: "automatic",
  jsxImportSource: "preact",
  charset: "utf8",
  legalComments: "eof",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});

await copyFile(join(root, "index.html"), join(dist, "index.html"));

const files = (await readdir(dist)).sort();
const expected = ["app.css", "app.js", "index.html"];
if (JSON.stringify(files) !== JSON.stringify(expected)) {
  throw new Error(`dist/ should hold exactly ${expected.join(", ")}, not ${files.join(", ")}`);
}
