#!/usr/bin/env node
// The compiled CLI (dist/, built by `npm run build`, and by `npm pack` before it packs): plain Node,
// no TypeScript loader at run time.
process.env.TCPVERBS_BIN = '1';
await import('../dist/src/cli/main.js');
