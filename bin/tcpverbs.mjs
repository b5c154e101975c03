#!/usr/bin/env node
// The package ships TypeScript sources; tsx compiles them on load.
import { register } from 'tsx/esm/api';

register();
process.env.TCPVERBS_BIN = '1';
await import('../src/cli/main.ts');
