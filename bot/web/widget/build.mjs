// Bundles src/ into one minified IIFE, bot/web/static/widget.js, which the web app serves as
// /widget.js. Clinics embed it with a single script tag, so it must not rely on a module loader
// or leak globals into their pages. Prints the size a browser actually downloads (gzip).
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = resolve(here, "..", "static", "widget.js");
mkdirSync(dirname(outfile), { recursive: true });

await build({
  entryPoints: [resolve(here, "src", "main.js")],
  outfile,
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  legalComments: "eof",
  logLevel: "warning",
});

const code = readFileSync(outfile);
const kib = (n) => (n / 1024).toFixed(1);
console.log(
  `${relative(process.cwd(), outfile)}: ${kib(code.length)} KiB, ` +
    `${kib(gzipSync(code, { level: 9 }).length)} KiB gzip`,
);
