import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as users get it: `npm pack` (which builds dist/ first), then `npm install` of the
 * tarball with --omit=dev into an empty project, offline (only the cache `npm ci` filled), then
 * plain `node` — no tsx, no TypeScript loader — runs the API, `tcpverbs/machines` and the CLI, and
 * the repository's TypeScript checks a strict consumer against the shipped types.
 */
const ROOT = resolve(import.meta.dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

let work = '';
let project = '';
let tarball = '';

function run(command: string, args: readonly string[], cwd: string, timeout = 120_000): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' } });
}

function must(result: SpawnSyncReturns<string>, what: string): string {
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status}${result.error ? `, ${result.error.message}` : ''}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const node = (file: string, ...args: string[]) => run(process.execPath, [file, ...args], project);

/**
 * The consumer's lockfile: the tarball, and the runtime dependencies pinned exactly as in our own
 * lockfile. Resolving version ranges would fetch registry metadata, which `npm ci` never caches;
 * with every version pinned, the install takes the tarballs `npm ci` put in the cache and
 * nothing from the network.
 */
function consumerLock(dependency: string, integrity: string): object {
  const ours = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string> };
  const runtime = Object.entries(ours.packages).filter(([path, entry]) => path !== '' && entry.dev !== true && entry.devOptional !== true);
  return {
    name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true,
    packages: {
      '': { name: 'consumer', version: '1.0.0', dependencies: { tcpverbs: dependency } },
      'node_modules/tcpverbs': { version: manifest.version, resolved: dependency, integrity, license: 'MIT', dependencies: manifest.dependencies, bin: manifest.bin, engines: manifest.engines },
      ...Object.fromEntries(runtime),
    },
  };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tcpverbs-package-'));
  const packed = must(run(NPM, ['pack', '--json', '--pack-destination', work], ROOT, 300_000), 'npm pack');
  // The prepack build may print before npm's JSON: the JSON is the last array in the output.
  const manifest = JSON.parse(packed.slice(packed.lastIndexOf('\n[') + 1)) as { filename: string; integrity: string; files: { path: string }[] }[];
  tarball = join(work, manifest[0]!.filename);
  packedFiles = manifest[0]!.files.map((f) => f.path);
  project = join(work, 'project');
  mkdirSync(project);
  const dependency = `file:../${manifest[0]!.filename}`;
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: { tcpverbs: dependency } }));
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify(consumerLock(dependency, manifest[0]!.integrity)));
  must(run(NPM, ['install', '--omit=dev', '--offline', '--no-audit', '--no-fund', tarball], project, 300_000), 'npm install --omit=dev --offline of the tarball');
}, 600_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

let packedFiles: string[] = [];

describe('the packed package, installed with --omit=dev, on plain Node', () => {
  it('ships the compiled code, its types and source maps, the bin, the spec and the docs; no sources or tests', () => {
    expect(packedFiles).toEqual(expect.arrayContaining(['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.js.map', 'dist/machines/index.js', 'bin/tcpverbs.mjs', 'spec/RcVerbs.tla', 'package.json', 'README.md']));
    expect(packedFiles.filter((f) => /^(src|test|bench|examples)\//.test(f) || f.endsWith('.test.js'))).toEqual([]);
    const installed = readdirSync(join(project, 'node_modules'));
    for (const dev of ['tsx', 'typescript', 'vitest']) expect(installed, `${dev} was installed`).not.toContain(dev);
    // conform's random sequences generate and shrink with fast-check at run time.
    expect(installed).toContain('fast-check');
    expect(existsSync(join(project, 'node_modules/tcpverbs/src'))).toBe(false);
  });

  it('imports tcpverbs and runs an RC SEND over loopback TCP', () => {
    writeFileSync(join(project, 'send.mjs'), `
import net from 'node:net';
import { openDevice, Access, QpAttrMask as M, SendFlags } from 'tcpverbs';
const side = () => {
  const ctx = openDevice();
  const pd = ctx.allocPd();
  const mr = pd.regMr(new Uint8Array(4096), Access.LOCAL_WRITE);
  const cq = ctx.createCq(8);
  const qp = pd.createQp({ qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 4, maxRecvWr: 4 } });
  qp.modify({ qpState: 'INIT', pkeyIndex: 0, portNum: 1, qpAccessFlags: 0 }, M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS);
  return { ctx, mr, cq, qp };
};
const server = net.createServer();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const accepted = new Promise((r) => server.once('connection', r));
const sa = net.connect(server.address().port, '127.0.0.1');
await new Promise((r) => sa.once('connect', r));
const sb = await accepted;
const a = side(), b = side();
for (const [me, peer, socket] of [[a, b, sa], [b, a, sb]]) {
  me.qp.modify({ qpState: 'RTR', ahAttr: { socket }, pathMtu: 4096, destQpNum: peer.qp.qpNum, rqPsn: 0, maxDestRdAtomic: 1, minRnrTimer: 12 },
    M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER);
  me.qp.modify({ qpState: 'RTS', sqPsn: 0, timeout: 14, retryCnt: 7, rnrRetry: 7, maxRdAtomic: 1 },
    M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC);
}
b.qp.postRecv({ wrId: 7n, sgList: [{ addr: b.mr.addr, length: 64, lkey: b.mr.lkey }] });
a.mr.buffer.set(new TextEncoder().encode('packaged'));
a.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [{ addr: a.mr.addr, length: 8, lkey: a.mr.lkey }] });
const wcs = [];
for (let i = 0; i < 5000 && wcs.length < 2; i++) {
  wcs.push(...a.cq.poll(2), ...b.cq.poll(2));
  await new Promise((r) => setTimeout(r, 1));
}
console.log(wcs.map((wc) => wc.opcode + ':' + wc.status).sort().join(' '), new TextDecoder().decode(b.mr.buffer.subarray(0, 8)));
a.ctx.close(); b.ctx.close(); server.close();
`);
    const result = node('send.mjs');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('RECV:SUCCESS SEND:SUCCESS packaged');
  });

  it('runs the README\'s "use it in your project" example as written', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Use it in your project'));
    const example = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example, 'the README has a js block in "Use it in your project"').toBeDefined();
    writeFileSync(join(project, 'readme.mjs'), example!);
    const result = node('readme.mjs');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('RECV SUCCESS, SEND SUCCESS hi');
  });

  it('imports tcpverbs/machines and runs a QP machine', () => {
    writeFileSync(join(project, 'machines.mjs'), `
import { createActor } from 'xstate';
import { QP_MODIFY_TABLE, qpMachine, QpAttrMask, MACHINE_CATALOG } from 'tcpverbs/machines';
const qp = createActor(qpMachine, { input: { qpType: 'RC' } }).start();
qp.send({ type: 'MODIFY', attr: { qpState: 'INIT' }, mask: QpAttrMask.STATE | QpAttrMask.PKEY_INDEX | QpAttrMask.PORT | QpAttrMask.ACCESS_FLAGS });
console.log(qp.getSnapshot().value, QP_MODIFY_TABLE.length, MACHINE_CATALOG.map((e) => e.name).join(','));
`);
    const result = node('machines.mjs');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('INIT 22 qp,work-request,buffer,memory-region,completion-queue');
  });

  it('runs the CLI from node_modules/.bin: --help, and verify --only coverage', () => {
    const bin = join(project, 'node_modules/.bin/tcpverbs');
    const help = run(bin, ['--help'], project);
    expect(help.status, help.stderr).toBe(0);
    for (const command of ['verify', 'diagrams', 'pingpong', 'tables']) expect(help.stdout).toContain(command);
    const verify = run(bin, ['verify', '--only', 'coverage'], project);
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stderr).toMatch(/coverage\s+pass .*5 machines, \d+ paths; states (\d+)\/\1, transitions (\d+)\/\2/);
    expect(verify.stderr).toContain('1 passed, 0 failed');
  });

  it('runs conform from node_modules/.bin against its own adapter, random sequences and the spec included', () => {
    const bin = join(project, 'node_modules/.bin/tcpverbs');
    const conform = run(bin, ['conform', '--adapter', `"${bin}" adapter`, '--only', 'resources,sequences', '--runs', '3', '--report', 'json'], project);
    expect(conform.status, conform.stderr).toBe(0);
    expect(JSON.parse(conform.stdout)).toMatchObject({ failed: 0, groups: { resources: { passed: 28 }, sequences: { passed: 3 } } });
  }, 120_000);

  it('type-checks a strict TypeScript consumer (nodenext) against the shipped types, and rejects a wrong one', () => {
    const config = {
      compilerOptions: {
        strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false,
        types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      files: ['consumer.ts'],
    };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(config));
    writeFileSync(join(project, 'consumer.ts'), `
import { openDevice, Access, QpAttrMask, SendFlags, VerbsError, type QueuePair, type WorkCompletion, type QpState } from 'tcpverbs';
import { qpMachine, QP_MODIFY_TABLE } from 'tcpverbs/machines';
const ctx = openDevice();
const pd = ctx.allocPd();
const mr = pd.regMr(new Uint8Array(64), Access.LOCAL_WRITE);
const cq = ctx.createCq(4);
const qp: QueuePair = pd.createQp({ qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 1, maxRecvWr: 1 } });
const state: QpState = qp.state;
const wcs: WorkCompletion[] = cq.poll(1);
try { qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [{ addr: mr.addr, length: 8, lkey: mr.lkey }] }); }
catch (error) { if (error instanceof VerbsError) console.log(error.errno, error.badWr); }
console.log(state, wcs.length, QpAttrMask.STATE, qpMachine.id, QP_MODIFY_TABLE.length);
`);
    const good = run(process.execPath, [TSC, '-p', project], project);
    expect(good.status, `${good.stdout}${good.stderr}`).toBe(0);
    // The types are real, not any: a number where a bigint wrId belongs is an error.
    writeFileSync(join(project, 'consumer.ts'), `
import { openDevice } from 'tcpverbs';
const ctx = openDevice();
const cq = ctx.createCq(4);
const qp = ctx.allocPd().createQp({ qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 1, maxRecvWr: 1 } });
qp.postSend({ wrId: 1, opcode: 'SEND' });
`);
    const bad = run(process.execPath, [TSC, '-p', project], project);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/consumer\.ts.*error TS2322: Type 'number' is not assignable to type 'bigint'/);
  }, 180_000);
});
