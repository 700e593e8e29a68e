// Bundles the browser entry (lib/client/browser.ts) into dist/client.mjs with esbuild, plus dist/client.d.mts.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { clientBuildOptions } from './client-bundle.cjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Build the browser bundle into `outDir` (default dist/); its options are in client-bundle.cjs. */
export async function buildClient(outDir = path.join(root, 'dist')) {
  mkdirSync(outDir, { recursive: true });
  await build(clientBuildOptions(path.join(outDir, 'client.mjs')));
  // Types for `import … from 'tokenward/client'`: the declarations tsc emitted for the entry.
  writeFileSync(path.join(outDir, 'client.d.mts'), "export * from './client/browser.js';\n");
  return path.join(outDir, 'client.mjs');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // `node scripts/build-client.mjs [outDir]`: the browser test builds into a temporary directory.
  const out = await buildClient(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  console.log(`build-client: ${out}`);
}
