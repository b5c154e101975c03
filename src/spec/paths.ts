import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root and its spec/ directory, wherever the tooling is run from. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SPEC_DIR = resolve(REPO_ROOT, 'spec');
