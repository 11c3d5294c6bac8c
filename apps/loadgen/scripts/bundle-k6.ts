import { build } from 'esbuild';

// Bundles the k6 scripts (TypeScript) into one ES module each under dist/k6, for `k6 run`. k6's own modules
// stay imports: k6 provides them at run time.
await build({
  entryPoints: { predict: new URL('../k6/src/predict-script.ts', import.meta.url).pathname },
  outdir: new URL('../dist/k6', import.meta.url).pathname,
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2020',
  external: ['k6', 'k6/*'],
  logLevel: 'warning',
  legalComments: 'none',
});
