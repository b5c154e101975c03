import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root: the nearest directory above this file whose package.json is tcpverbs'. The
 * same code runs from src/spec/ (the repository, through tsx) and from dist/src/spec/ (the
 * installed package), so a fixed number of '..' would be wrong in one of them.
 */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'tcpverbs') return dir;
      } catch {
        // Not a readable manifest: keep looking above it.
      }
    }
    if (dirname(dir) === dir) throw new Error(`tcpverbs: no package.json of tcpverbs above ${from}`);
  }
}

/** The repository (or installed package) root and its spec/ directory, wherever the tooling is run from. */
export const REPO_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
export const SPEC_DIR = resolve(REPO_ROOT, 'spec');
