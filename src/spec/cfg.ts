/**
 * TLC model configuration files (spec/*.cfg): the subset both TLC and tla-checker read.
 */
import { readFileSync } from 'node:fs';
import { isSet, parseTlaValue, type TlaValue } from './tla-value.js';
import type { SpecConstants } from './model.js';

export interface TlcConfig {
  readonly constants: ReadonlyMap<string, TlaValue>;
  readonly init: string | null;
  readonly next: string | null;
  readonly specification: string | null;
  readonly invariants: readonly string[];
  readonly properties: readonly string[];
  readonly checkDeadlock: boolean | null;
}

const KEYWORDS = new Set([
  'CONSTANT', 'CONSTANTS', 'INIT', 'NEXT', 'SPECIFICATION', 'INVARIANT', 'INVARIANTS', 'PROPERTY',
  'PROPERTIES', 'CHECK_DEADLOCK', 'SYMMETRY', 'CONSTRAINT', 'CONSTRAINTS', 'VIEW',
]);

export function parseCfg(text: string): TlcConfig {
  const clean = text.replace(/\(\*[\s\S]*?\*\)/g, ' ').replace(/\\\*.*$/gm, ' ');
  // Split into sections at keywords that start a line.
  const sections: { keyword: string; body: string }[] = [];
  for (const line of clean.split('\n')) {
    const m = /^\s*([A-Z_]+)\b(.*)$/.exec(line);
    if (m !== null && KEYWORDS.has(m[1]!)) sections.push({ keyword: m[1]!, body: m[2]! });
    else if (sections.length > 0) sections[sections.length - 1]!.body += `\n${line}`;
    else if (line.trim() !== '') throw new Error(`cfg: text before the first keyword: ${line.trim()}`);
  }
  const constants = new Map<string, TlaValue>();
  const invariants: string[] = [];
  const properties: string[] = [];
  let init: string | null = null;
  let next: string | null = null;
  let specification: string | null = null;
  let checkDeadlock: boolean | null = null;
  const names = (body: string) => body.split(/\s+/).filter((n) => n !== '');
  for (const { keyword, body } of sections) {
    switch (keyword) {
      case 'CONSTANT':
      case 'CONSTANTS': {
        const re = /([A-Za-z_][A-Za-z0-9_]*)\s*=\s*/g;
        const heads = [...body.matchAll(re)].filter((m) => {
          // A name followed by `=` outside any bracket starts an assignment.
          const before = body.slice(0, m.index);
          const depth = [...before].reduce((d, ch) => d + ('{[<('.includes(ch) ? 1 : '}]>)'.includes(ch) ? -1 : 0), 0);
          return depth === 0;
        });
        heads.forEach((m, i) => {
          const start = (m.index ?? 0) + m[0].length;
          const end = i + 1 < heads.length ? heads[i + 1]!.index : body.length;
          constants.set(m[1]!, parseTlaValue(body.slice(start, end).trim()));
        });
        break;
      }
      case 'INIT': init = names(body)[0] ?? null; break;
      case 'NEXT': next = names(body)[0] ?? null; break;
      case 'SPECIFICATION': specification = names(body)[0] ?? null; break;
      case 'INVARIANT':
      case 'INVARIANTS': invariants.push(...names(body)); break;
      case 'PROPERTY':
      case 'PROPERTIES': properties.push(...names(body)); break;
      case 'CHECK_DEADLOCK': checkDeadlock = names(body)[0] === 'TRUE'; break;
      default: break;
    }
  }
  return { constants, init, next, specification, invariants, properties, checkDeadlock };
}

export function readCfg(path: string): TlcConfig {
  return parseCfg(readFileSync(path, 'utf8'));
}

const strs = (v: TlaValue | undefined, name: string): string[] => {
  if (v === undefined || !isSet(v)) throw new Error(`cfg: constant ${name} must be a set`);
  return v.set.map((x) => {
    if (typeof x !== 'string') throw new Error(`cfg: ${name} must hold strings`);
    return x;
  }).sort();
};

/** RcVerbs' constants from a config. */
export function specConstants(cfg: TlcConfig): SpecConstants {
  const get = (name: string) => {
    const v = cfg.constants.get(name);
    if (v === undefined) throw new Error(`cfg: constant ${name} is not set`);
    return v;
  };
  const n = (name: string) => {
    const v = get(name);
    if (typeof v !== 'number') throw new Error(`cfg: ${name} must be a number`);
    return v;
  };
  const allowBreak = get('AllowBreak');
  if (typeof allowBreak !== 'boolean') throw new Error('cfg: AllowBreak must be TRUE or FALSE');
  return {
    MaxPosts: n('MaxPosts'),
    Buffers: strs(get('Buffers'), 'Buffers'),
    SendOps: strs(get('SendOps'), 'SendOps'),
    Regions: strs(get('Regions'), 'Regions'),
    RemoteWritable: strs(get('RemoteWritable'), 'RemoteWritable'),
    RnrRetry: n('RnrRetry'),
    AllowBreak: allowBreak,
  };
}

const tlaSet = (xs: readonly string[]) => `{${xs.map((x) => JSON.stringify(x)).join(', ')}}`;

/** A config that gives RcVerbs these constants (INIT/NEXT only: for stepping, not for checking). */
export function cfgForConstants(k: SpecConstants): string {
  return [
    'INIT Init',
    'NEXT Next',
    'CONSTANTS',
    `  MaxPosts = ${k.MaxPosts}`,
    `  Buffers = ${tlaSet(k.Buffers)}`,
    `  SendOps = ${tlaSet(k.SendOps)}`,
    `  Regions = ${tlaSet(k.Regions)}`,
    `  RemoteWritable = ${tlaSet(k.RemoteWritable)}`,
    `  RnrRetry = ${k.RnrRetry}`,
    `  AllowBreak = ${k.AllowBreak ? 'TRUE' : 'FALSE'}`,
    '',
  ].join('\n');
}
