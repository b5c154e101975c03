/**
 * `tcpverbs perf` re-executes itself under node --single-threaded (src/cli/single-threaded.ts):
 * the waiting parent and the measured child must live and die together, as one command does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { childExecArgv } from '../src/cli/single-threaded.js';

const BIN = resolve(import.meta.dirname, '../bin/tcpverbs.mjs');

/** A perf server (waits for a client forever), its stderr lines, and its measured child's pid once it listens. */
async function server(nodeFlags: string[] = [], noCoreDump = false): Promise<{ parent: ChildProcess; childPid: number; stderr: string[]; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const argv = [...nodeFlags, BIN, 'perf', 'send_bw', '-p', '0'];
  // A crash test must not leave a core file behind where cores are enabled: the limit is inherited.
  const parent = noCoreDump
    ? spawn('sh', ['-c', 'ulimit -c 0 && exec "$0" "$@"', process.execPath, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) => parent.once('close', (code, signal) => ok({ code, signal })));
  const stderr: string[] = [];
  await new Promise<void>((ok, fail) => {
    createInterface({ input: parent.stderr! }).on('line', (line) => {
      stderr.push(line);
      if (line.startsWith('listening on port')) ok();
    });
    setTimeout(() => fail(new Error(`no "listening" line within 20 s: ${stderr.join(' | ')}`)), 20_000).unref();
  });
  const children = childrenOf(parent.pid!);
  expect(children).toHaveLength(1);
  return { parent, childPid: children[0]!, stderr, exited };
}

/** Pids whose parent is `pid`, from /proc (no procps needed): stat's 4th field, after the command in parentheses. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function gone(pid: number, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (!alive(pid)) return true;
  return false;
}

describe('tcpverbs perf re-executed under node --single-threaded', () => {
  it('a parent killed outright (SIGKILL) takes its measured child with it: no orphan is left spinning a core', async () => {
    const { parent, childPid } = await server();
    try {
      expect(readFileSync(`/proc/${childPid}/cmdline`, 'utf8').split('\0')).toContain('--single-threaded');
      parent.kill('SIGKILL');
      expect(await gone(childPid)).toBe(true);
    } finally {
      if (alive(childPid)) process.kill(childPid, 'SIGKILL');
    }
  });

  it('a child ended by a signal ends the parent by the same signal (what a shell reports), and SIGTERM to the parent reaches the child', async () => {
    const first = await server();
    process.kill(first.childPid, 'SIGTERM');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGTERM' });
    const second = await server();
    second.parent.kill('SIGINT');
    expect(await gone(second.childPid)).toBe(true);
    expect(await second.exited).toEqual({ code: null, signal: 'SIGINT' });
  });

  it('a crashed child (SIGABRT) is reported with the shell\'s code for it (134), not re-raised: the parent dumps no core of its own', async () => {
    const { childPid, stderr, exited } = await server([], true);
    process.kill(childPid, 'SIGABRT');
    expect(await exited).toEqual({ code: 134, signal: null });
    expect(stderr.join('\n')).toContain('the measured process died of SIGABRT');
  });

  it('--inspect stays with the parent: the child gets the other Node flags, not the inspector, and stderr says so', async () => {
    const { parent, childPid, stderr, exited } = await server(['--inspect=127.0.0.1:0', '--max-old-space-size=300']);
    try {
      const args = readFileSync(`/proc/${childPid}/cmdline`, 'utf8').split('\0');
      expect(args).toContain('--max-old-space-size=300');
      expect(args.some((a) => a.startsWith('--inspect'))).toBe(false);
      expect(stderr.join('\n')).toMatch(/--inspect=127\.0\.0\.1:0 applies to this process only/);
    } finally {
      parent.kill('SIGTERM');
      await exited;
    }
  });

  it('childExecArgv drops every inspector flag, with the value of a two-argument one, and keeps the rest in order', () => {
    expect(childExecArgv(['--inspect', '--max-old-space-size=64', '--inspect-port', '9230', '--inspect-brk=0', '--no-warnings', '--debug-port=1'])).toEqual({
      kept: ['--max-old-space-size=64', '--no-warnings'],
      dropped: ['--inspect', '--inspect-port', '9230', '--inspect-brk=0', '--debug-port=1'],
    });
    expect(childExecArgv(['--inspector-lookalike', '--enable-source-maps'])).toEqual({ kept: ['--inspector-lookalike', '--enable-source-maps'], dropped: [] });
  });
});
