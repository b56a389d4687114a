#!/usr/bin/env node
// Completes dist/web after tsc: the page and its stylesheet, and the two small ES-module
// libraries the page imports (Preact and htm), copied from node_modules so the browser
// loads everything from this server. No bundler: the page maps bare imports with an
// import map.
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';

const out = path.resolve('dist/web');
await mkdir(path.join(out, 'vendor'), { recursive: true });
await cp(path.resolve('src/web/public'), out, { recursive: true });
const vendor = {
  'preact.module.js': 'node_modules/preact/dist/preact.module.js',
  'hooks.module.js': 'node_modules/preact/hooks/dist/hooks.module.js',
  'htm.module.js': 'node_modules/htm/dist/htm.module.js',
  'htm-preact.module.js': 'node_modules/htm/preact/index.module.js',
};
for (const [name, from] of Object.entries(vendor)) await cp(path.resolve(from), path.join(out, 'vendor', name));
