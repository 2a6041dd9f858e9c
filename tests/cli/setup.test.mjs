// setup.test.mjs — the first hour of a new user (issue 21): the README's examples run as pasted,
// one after the other, as someone following only the README would run them (`make install
// PREFIX=$HOME/.local`, the exported KVS_URL and KVS_TOKEN, `npm install apify-client`, curl,
// the kvs command line, a libkvs program); `make run` takes the server's options; `kvs
// --version` and GET /health name the build; a busy port and a server whose admin has no
// token left are told in one clear line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

import { KVS_BIN, NEEDS_SPAWN, freePort, makeClient, makeTempDir, ms, startServer } from '../lib/server.mjs';
import { REPO, kvs, run, show } from './lib.mjs';

const T = { timeout: ms(300_000) };
const MAKE_ARGS = (process.env.KVS_MAKE_ARGS || '').split(' ').filter(Boolean);
// a sanitized run builds into build/asan: the README's bare `make` lines must not build build/
const MAKE_ENV = Object.fromEntries(MAKE_ARGS.map((a) => a.split('=')));

function ok(r, what = '') {
    assert.equal(r.code, 0, `${what}\n${show(r)}`);
    return r;
}

/** The README's tested examples, in order: [{ kind, text }], each the fenced block that follows
 *  a `<!-- readme-test: KIND -->` line. */
async function readmeExamples() {
    const readme = await fs.readFile(path.join(REPO, 'README.md'), 'utf8');
    const re = /<!-- readme-test: (\w+) -->\n(?:[ \t]*\n)*[ \t]*```\w*\n([\s\S]*?)\n[ \t]*```/g;
    return [...readme.matchAll(re)].map((m) => ({ kind: m[1], text: m[2] }));
}

describe('the README, followed as written', { skip: NEEDS_SPAWN }, () => {
    let server, tmp, home, env;
    before(async () => {
        tmp = await makeTempDir('kvs-readme-');
        home = path.join(tmp, 'home');
        await fs.mkdir(home);
        server = await startServer();
    });
    after(async () => {
        await server?.stop();
        await fs.rm(tmp, { recursive: true, force: true });
    });

    test('one token variable, KVS_TOKEN, and one URL variable, KVS_URL, in every example; installing kvs and apify-client is said', T, async () => {
        const readme = await fs.readFile(path.join(REPO, 'README.md'), 'utf8');
        const blocks = [...readme.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => m[2]);
        for (const b of blocks) {
            for (const m of b.matchAll(/Bearer \$\{?(\w+)/g)) assert.equal(m[1], 'KVS_TOKEN', b);
            for (const m of b.matchAll(/--token "?\$\{?(\w+)/g)) assert.equal(m[1], 'KVS_TOKEN', b);
            assert.doesNotMatch(b, /^\s*T=/m, 'no other token variable');
        }
        assert.match(readme, /npm install apify-client/);
        assert.match(readme, /make install PREFIX=\$HOME\/\.local/);
        assert.match(readme, /make run LISTEN=[^`]*ARGS="/);
        const kinds = (await readmeExamples()).map((e) => e.kind);
        for (const k of ['env', 'install', 'js', 'sh', 'c']) assert.ok(kinds.includes(k), `an example of kind ${k} is tested`);
    });

    test('every tested example runs as pasted, after the ones before it', T, async () => {
        const examples = await readmeExamples();
        env = { HOME: home, ...MAKE_ENV, MAKEFLAGS: undefined, MFLAGS: undefined, KVS_URL: undefined, KVS_TOKEN: undefined };
        const work = path.join(tmp, 'work');
        await fs.mkdir(work);
        // what `npm install apify-client` in the working directory gives, without the network
        await fs.symlink(path.join(REPO, 'node_modules'), path.join(work, 'node_modules'));
        const outputs = [];
        for (const [i, ex] of examples.entries()) {
            const what = `example ${i} (${ex.kind}):\n${ex.text}`;
            if (ex.kind === 'env') {
                // the placeholders become this server's address and token; the exports are kept
                const text = ex.text.replace('http://127.0.0.1:8787', server.url).replace('kvs_...', server.token);
                const r = ok(await run('bash', ['-ec', `${text}\nprintf '%s\\n%s\\n' "$KVS_URL" "$KVS_TOKEN"`], { env, cwd: work }), what);
                assert.deepEqual(r.out.trim().split('\n'), [server.url, server.token], 'the block sets KVS_URL and KVS_TOKEN');
                env = { ...env, KVS_URL: server.url, KVS_TOKEN: server.token };
            } else if (ex.kind === 'install') {
                // run in the clone, as the README says; its PATH line is kept for what follows
                const r = ok(await run('bash', ['-ec', `${ex.text}\necho "PATH=$PATH"`], { env, cwd: REPO, timeoutMs: ms(240_000) }), what);
                env = { ...env, PATH: r.out.match(/^PATH=(.*)$/m)[1] };
                assert.match(r.out, /^kvs \d+\.\d+\.\d+/m, 'kvs --version after the install');
                outputs.push(r.out);
            } else if (ex.kind === 'js') {
                await fs.writeFile(path.join(work, 'demo.mjs'), ex.text);
                const r = ok(await run('node', ['demo.mjs'], { env, cwd: work }), what);
                assert.match(r.out, /key: 'hello'/);
                assert.match(r.out, /value: \{ a: 1 \}/);
            } else if (ex.kind === 'sh') {
                outputs.push(ok(await run('bash', ['-ec', ex.text], { env, cwd: work }), what).out);
                if (ex.text.includes('records/counter')) {
                    const counter = await makeClient(server).keyValueStore('admin~demo').getRecord('counter');
                    assert.equal(String(counter?.value), '1', 'the conditional write added one');
                }
            } else if (ex.kind === 'c') {
                await fs.writeFile(path.join(work, 'demo.c'), ex.text);
                // as the README's libkvs section says: cc ... $(pkg-config --cflags --libs kvs)
                const pc = { ...env, PKG_CONFIG_PATH: path.join(home, '.local/lib/pkgconfig') };
                ok(await run('bash', ['-ec', 'cc -o demo demo.c $(pkg-config --cflags --libs kvs)'], { env: pc, cwd: work }), what);
                const r = ok(await run(path.join(work, 'demo'), [], { env: { ...env, LD_LIBRARY_PATH: path.join(home, '.local/lib') }, cwd: work }), what);
                assert.equal(r.out, 'hello (text/plain)\n');
            } else {
                assert.fail(`unknown example kind ${ex.kind}`);
            }
        }
        const all = outputs.join('\n');
        assert.match(all, /"name":"demo"/, 'curl created the store');
        assert.match(all, /^hi$/m, 'curl read the record back');
        assert.match(all, /^created store demo|^kept the existing store demo/m);
        assert.match(all, /^yes$/m, 'kvs exists');
        assert.match(all, /^deleted store demo2$/m);
        assert.equal(await fs.readFile(path.join(work, 'copy.txt'), 'utf8'), 'Hello!\n');
    });
});

/** Starts `make run ARGS...` in a process group of its own; resolves once it serves. */
async function makeRun(args) {
    const p = spawn('make', ['-s', '-C', REPO, ...MAKE_ARGS, 'run', ...args], {
        env: { ...process.env, MAKEFLAGS: '', MFLAGS: '', KVS_ADMIN_TOKEN: 'kvs_make_run_test_token_0123456789' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
    });
    const log = { out: '', err: '' };
    p.stdout.setEncoding('utf8').on('data', (c) => (log.out += c));
    p.stderr.setEncoding('utf8').on('data', (c) => (log.err += c));
    const exited = new Promise((resolve) => p.on('exit', resolve));
    const deadline = Date.now() + ms(120_000);
    while (!/kvs: serving/.test(log.out)) {
        if (Date.now() > deadline || p.exitCode !== null) throw new Error(`make run did not serve:\n${log.out}\n${log.err}`);
        await new Promise((r) => setTimeout(r, 50));
    }
    return {
        log,
        async stop() {
            process.kill(-p.pid, 'SIGTERM'); // make and the kvs it started: our own group
            await exited;
        },
    };
}

describe('make run and make help', { skip: NEEDS_SPAWN }, () => {
    test('make run takes LISTEN, DATA and ARGS (any kvs serve option); make help says so', T, async () => {
        const tmp = await makeTempDir('kvs-makerun-');
        const port = await freePort();
        const data = path.join(tmp, 'mydata');
        const srv = await makeRun([`LISTEN=127.0.0.1:${port}`, `DATA=${data}`, 'ARGS=--access-log - --unnamed-retention 30d']);
        try {
            const res = await fetch(`http://127.0.0.1:${port}/health`);
            const health = await res.json();
            assert.equal(health.unnamedRetentionMillis, 30 * 86400 * 1000, 'the option reached kvs serve');
            assert.match(srv.log.out, new RegExp(`serving http://127\\.0\\.0\\.1:${port} \\(data in ${data}`));
            const deadline = Date.now() + ms(5000);
            while (!/ GET \/health /.test(srv.log.err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
            assert.match(srv.log.err, / GET \/health health 200 /, 'the access log goes to stderr');
        } finally {
            await srv.stop();
            await fs.rm(tmp, { recursive: true, force: true });
        }
        const help = ok(await run('make', ['-s', '-C', REPO, 'help'], { env: { MAKEFLAGS: undefined } })).out;
        assert.match(help, /LISTEN=HOST:PORT/);
        assert.match(help, /DATA=DIR/);
        assert.match(help, /ARGS="\.\.\."/);
        assert.match(help, /make install PREFIX=~\/\.local/);
    });
});

describe('kvs serve: version, a busy port, an admin without a token', { skip: NEEDS_SPAWN }, () => {
    test('kvs --version and kvs version name the release and the commit; /health and the serving line say the same', T, async () => {
        const a = ok(await run(KVS_BIN, ['--version']));
        const b = ok(await run(KVS_BIN, ['version']));
        assert.equal(a.out, b.out);
        const m = a.out.match(/^kvs (\d+\.\d+\.\d+)(?: \(([^)]+)\))?\n$/);
        assert.ok(m, a.out);
        const pkg = await fs.readFile(path.join(REPO, 'include/kvs/client.h'), 'utf8');
        assert.equal(m[1], pkg.match(/#define KVS_VERSION "(.*)"/)[1], 'the release is the one of kvs/client.h');
        const git = await run('git', ['-C', REPO, 'rev-parse', '--short=7', 'HEAD']);
        if (git.code === 0) assert.ok(m[2] && m[2].startsWith(git.out.trim().slice(0, 7)), `the commit ${git.out} in ${a.out}`);
        assert.equal((await run(KVS_BIN, ['version', 'extra'])).code, 2);
        assert.match(ok(await run(KVS_BIN, ['help'])).out, /kvs version/);

        const server = await startServer();
        try {
            const health = await (await fetch(`${server.url}/health`)).json();
            assert.equal(health.status, 'ok');
            assert.equal(health.version, m[1]);
            assert.equal(health.build, m[2] ?? '');
            assert.equal(health.maxRecordSize, 64 * 1024 ** 3); // the default: records as large as the disk
            assert.equal(health.unnamedRetentionMillis, 7 * 86400 * 1000);
            assert.ok(server.stdout().includes(a.out.trim()), server.stdout());
        } finally {
            await server.stop();
        }
    });

    test('a port in use: one line naming the address and the reason, exit 1, and no token spent', T, async () => {
        const server = await startServer();
        const tmp = await makeTempDir('kvs-busy-');
        try {
            const r = await run(KVS_BIN, ['serve', '--listen', `127.0.0.1:${server.port}`, '--data', path.join(tmp, 'd')], { env: { KVS_ADMIN_TOKEN: undefined } });
            assert.equal(r.code, 1, show(r));
            assert.equal(r.out, '', 'no token was shown (and so spent)');
            const lines = r.stderr.trim().split('\n');
            assert.equal(lines.length, 1, r.stderr);
            assert.match(lines[0], new RegExp(`^kvs serve: cannot listen on 127\\.0\\.0\\.1:${server.port}: Address already in use .*--listen`));
            assert.doesNotMatch(r.stderr, /port 0/);
        } finally {
            await server.stop();
            await fs.rm(tmp, { recursive: true, force: true });
        }
    });

    test('a restart where no admin has a token says how to make one; with a token it says nothing of it', T, async () => {
        const tmp = await makeTempDir('kvs-notoken-');
        const dataDir = path.join(tmp, 'data');
        try {
            let server = await startServer({ dataDir, token: null });
            const token = server.stdout().match(/API token \(shown only this once\): (\S+)/)[1];
            await server.stop();
            server = await startServer({ dataDir, token: null });
            assert.doesNotMatch(server.stdout(), /no admin has an API token/);
            const prefix = ok(await kvs(null, ['token', 'list', 'admin', '--data', server.storage ?? dataDir])).out.trim().split('\n')[1].split(/\s+/)[0];
            assert.ok(token.startsWith(prefix));
            ok(await kvs(null, ['token', 'revoke', prefix, '--data', server.storage ?? dataDir]));
            await server.stop();
            server = await startServer({ dataDir, token: null });
            const where = server.storage ? 'postgres' : dataDir;
            assert.match(server.stdout(), new RegExp(`^kvs: no admin has an API token; make one with: kvs token create admin --data ${where}`, 'm'));
            await server.stop();
        } finally {
            await fs.rm(tmp, { recursive: true, force: true });
        }
    });
});
