import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The dashboard's script: local/dashboard/main.ts and Apache ECharts from node_modules, bundled into one file when
 * the page is first asked for, so that nothing is loaded from the network and the page's code is typed like the rest.
 */
export function dashboardBundle(): Promise<string> {
  bundle ??= build({
    entryPoints: [join(__dirname, 'dashboard', 'main.ts')],
    bundle: true,
    format: 'iife',
    target: 'es2020',
    minify: true,
    write: false,
    logLevel: 'warning',
    legalComments: 'eof',
    // ECharts' sources carry their licence in plain comments, which minifying drops: it is said once, up front.
    banner: {
      js: `/*! Apache ECharts ${echartsVersion()}, Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0); see node_modules/echarts/NOTICE */`,
    },
  }).then((result) => result.outputFiles[0].text);
  // A failed build is tried again on the next request rather than remembered.
  bundle.catch(() => (bundle = undefined));
  return bundle;
}

let bundle: Promise<string> | undefined;

function echartsVersion(): string {
  return (JSON.parse(readFileSync(require.resolve('echarts/package.json'), 'utf8')) as { version: string }).version;
}
