// The `kvs` program itself: options, start-up (admin token), clean shutdown on SIGTERM/SIGINT
// with requests in flight, durability across restarts and after SIGKILL.
//
// Every test here starts servers of its own, so the file is skipped when the suite runs against
// an external server (KVS_TEST_URL); in CI it always runs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';

import {
    NEEDS_SPAWN,
    freePort,
    makeClient,
    makeTempDir,
    mapLimit,
    ms,
    randomToken,
    recordPath,
    request,
    runKvs,
    startServer,
    uniqueName,
    waitFor,
} from '../lib/server.mjs';
import { ON_PG } from '../lib/pg.mjs';

const T = { timeout: ms(60_000) };

/** A temp parent directory and the (not yet existing) data directory inside it; remove() cleans up. */
async function tempDataDir() {
    const parent = await makeTempDir('kvs-life-');
    return { dir: path.join(parent, 'data'), parent, remove: () => fs.rm(parent, { recursive: true, force: true }) };
}

const outputOf = (r) => `${r.stdout}${r.stderr}`;
const nonEmptyLines = (s) => s.split('\n').filter((l) => l.trim() !== '');

describe('command line', { skip: NEEDS_SPAWN }, () => {
    test('serve --help exits 0 and documents --listen, --data and --max-record-size', T, async () => {
        const r = await runKvs(['serve', '--help']);
        assert.equal(r.code, 0, `exit code; output:\n${outputOf(r)}`);
        const out = outputOf(r);
        for (const opt of ['--listen', '--data', '--max-record-size']) assert.ok(out.includes(opt), `--help mentions ${opt}:\n${out}`);
    });

    test('kvs --help exits 0 and mentions serve', T, async () => {
        const r = await runKvs(['--help']);
        assert.equal(r.code, 0, `exit code; output:\n${outputOf(r)}`);
        assert.ok(outputOf(r).includes('serve'), `--help mentions the serve command:\n${outputOf(r)}`);
    });

    /** Runs kvs with ARGS (a data dir is supplied where useful) and asserts a quick non-zero exit with one line. */
    async function assertRefused(args, mention) {
        const r = await runKvs(args, { timeoutMs: ms(5000) });
        const out = outputOf(r);
        assert.equal(r.signal, null, `kvs ${args.join(' ')} should exit by itself, not run (killed by ${r.signal}); output:\n${out}`);
        assert.notEqual(r.code, 0, `kvs ${args.join(' ')} should exit non-zero`);
        const lines = nonEmptyLines(out);
        assert.equal(lines.length, 1, `exactly one line of reason for kvs ${args.join(' ')}, got:\n${out}`);
        if (mention) assert.ok(lines[0].includes(mention), `the reason mentions ${mention}: ${lines[0]}`);
    }

    test('an unknown option exits non-zero with a one-line reason', T, async () => {
        const d = await tempDataDir();
        try {
            const port = await freePort();
            await assertRefused(['serve', '--listen', `127.0.0.1:${port}`, '--data', d.dir, '--bogus-option'], '--bogus-option');
            await assertRefused(['serve', '--bogus-option'], '--bogus-option');
        } finally {
            await d.remove();
        }
    });

    test('an unknown command exits non-zero', T, async () => {
        const r = await runKvs(['frobnicate'], { timeoutMs: ms(5000) });
        assert.equal(r.signal, null);
        assert.notEqual(r.code, 0);
        assert.ok(outputOf(r).trim().length > 0, 'says why');
    });

    for (const bad of ['nonsense', '127.0.0.1', '127.0.0.1:99999', '127.0.0.1:-1', '127.0.0.1:abc', '127.0.0.1:80:90', '[::1', '']) {
        test(`--listen ${JSON.stringify(bad)} exits non-zero with a one-line reason`, T, async () => {
            const d = await tempDataDir();
            try {
                await assertRefused(['serve', '--listen', bad, '--data', d.dir]);
            } finally {
                await d.remove();
            }
        });
    }

    for (const bad of ['abc', '-5', '0', '10X', '']) {
        test(`--max-record-size ${JSON.stringify(bad)} exits non-zero with a one-line reason`, T, async () => {
            const d = await tempDataDir();
            try {
                const port = await freePort();
                await assertRefused(['serve', '--listen', `127.0.0.1:${port}`, '--data', d.dir, '--max-record-size', bad]);
            } finally {
                await d.remove();
            }
        });
    }

    test('an option without its value exits non-zero with a one-line reason', T, async () => {
        const d = await tempDataDir();
        try {
            await assertRefused(['serve', '--data', d.dir, '--listen']);
        } finally {
            await d.remove();
        }
    });

    test('a --data path that is a file exits non-zero', T, async () => {
        const d = await tempDataDir();
        try {
            await fs.mkdir(d.parent, { recursive: true });
            const file = path.join(d.parent, 'a-file');
            await fs.writeFile(file, 'not a directory');
            const port = await freePort();
            const r = await runKvs(['serve', '--listen', `127.0.0.1:${port}`, '--data', file], { timeoutMs: ms(5000) });
            assert.equal(r.signal, null, `should exit by itself; output:\n${outputOf(r)}`);
            assert.notEqual(r.code, 0);
            assert.ok(outputOf(r).trim().length > 0, 'says why');
        } finally {
            await d.remove();
        }
    });

    test('a port that is already in use exits non-zero', T, async () => {
        const a = await startServer();
        const d = await tempDataDir();
        try {
            const r = await runKvs(['serve', '--listen', `127.0.0.1:${a.port}`, '--data', d.dir], { timeoutMs: ms(5000) });
            assert.equal(r.signal, null, `should exit by itself; output:\n${outputOf(r)}`);
            assert.notEqual(r.code, 0);
            assert.ok(outputOf(r).trim().length > 0, 'says why');
        } finally {
            await d.remove();
            await a.stop();
        }
    });

});

describe('start-up and the admin token', { skip: NEEDS_SPAWN }, () => {
    test('the data directory is created when missing; the token from KVS_ADMIN_TOKEN works, others do not', T, async () => {
        const token = randomToken();
        const server = await startServer({ token });
        try {
            if (!ON_PG) assert.ok((await fs.stat(server.dataDir)).isDirectory(), 'data directory created');
            assert.equal((await request(server, { path: '/v2/key-value-stores', token })).status, 200);
            assert.equal((await request(server, { path: '/v2/key-value-stores', token: randomToken() })).status, 401);
            assert.equal(outputOf({ stdout: server.stdout(), stderr: server.stderr() }).includes(token), false, 'a chosen token is not printed');
        } finally {
            await server.stop();
        }
    });

    test('without KVS_ADMIN_TOKEN a token is generated, printed once, and works; not printed on the next start', T, async () => {
        const d = await tempDataDir();
        try {
            const first = await startServer({ token: null, dataDir: d.dir });
            let token;
            try {
                const found = await waitFor(() => /kvs_[A-Za-z0-9]{16,}/.exec(first.stdout() + first.stderr()), {
                    timeoutMs: ms(3000),
                    message: 'the generated token (kvs_...) in the output of the running server',
                });
                token = found[0];
                const matches = (first.stdout() + first.stderr()).match(/kvs_[A-Za-z0-9]{16,}/g);
                assert.equal(matches.length, 1, 'printed exactly once');
                assert.equal((await request(first.url, { path: '/v2/key-value-stores', token })).status, 200, 'the printed token works');
                const c = makeClient({ url: first.url, token });
                await c.keyValueStores().getOrCreate(uniqueName('gen'));
            } finally {
                await first.stop();
            }
            const second = await startServer({ token: null, dataDir: d.dir });
            try {
                const out = second.stdout() + second.stderr();
                assert.ok(!out.includes(token), 'the token is not printed again');
                assert.ok(!/kvs_[A-Za-z0-9]{16,}/.test(out), 'no token printed on an existing data directory');
                assert.equal((await request(second.url, { path: '/v2/key-value-stores', token })).status, 200, 'the token still works');
            } finally {
                await second.stop();
            }
        } finally {
            await d.remove();
        }
    });
});

describe('shutdown and durability', { skip: NEEDS_SPAWN }, () => {
    for (const signal of ['SIGTERM', 'SIGINT']) {
        test(`${signal} exits 0`, T, async () => {
            const server = await startServer();
            const c = makeClient(server);
            const s = await c.keyValueStores().getOrCreate(uniqueName('sig'));
            await c.keyValueStore(s.id).setRecord({ key: 'k', value: 1 });
            const result = await server.stop({ signal });
            assert.deepEqual(result, { code: 0, signal: null });
        });
    }

    test('data survives a restart on the same data directory with the same token', T, async () => {
        const d = await tempDataDir();
        const token = randomToken();
        try {
            const a = await startServer({ token, dataDir: d.dir });
            const ca = makeClient(a);
            const name = uniqueName('persist');
            const bin = randomBytes(70_000);
            const gz = zlib.gzipSync(Buffer.from('gzip stored '.repeat(500)));
            let store;
            try {
                store = await ca.keyValueStores().getOrCreate(name);
                const kvs = ca.keyValueStore(store.id);
                await kvs.setRecord({ key: 'json', value: { a: [1, 2, 3] } });
                await kvs.setRecord({ key: 'text', value: 'hello '.repeat(1000), contentType: 'text/plain; charset=utf-8' });
                await kvs.setRecord({ key: 'bin', value: bin, contentType: 'application/octet-stream' });
                await kvs.setRecord({ key: 'deleted', value: 'x' });
                await kvs.deleteRecord('deleted');
                const put = await request(a, { method: 'PUT', path: recordPath(store.id, 'gz'), body: gz, headers: { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' } });
                assert.equal(put.status, 201);
                await kvs.update({ generalAccess: 'ANYONE_WITH_ID_CAN_READ' });
                await ca.keyValueStores().getOrCreate(); // an unnamed store too
            } finally {
                await a.stop();
            }
            const b = await startServer({ token, dataDir: d.dir });
            try {
                const cb = makeClient(b);
                const again = await cb.keyValueStore(`~${name}`).get();
                assert.ok(again, 'the store is still there');
                assert.equal(again.id, store.id);
                assert.equal(again.createdAt.getTime(), store.createdAt.getTime());
                assert.equal(again.generalAccess, 'ANYONE_WITH_ID_CAN_READ');
                const kvs = cb.keyValueStore(store.id);
                assert.deepEqual((await kvs.getRecord('json')).value, { a: [1, 2, 3] });
                const text = await kvs.getRecord('text');
                assert.equal(text.value, 'hello '.repeat(1000));
                assert.equal(text.contentType, 'text/plain; charset=utf-8');
                assert.ok((await kvs.getRecord('bin', { buffer: true })).value.equals(bin));
                assert.equal(await kvs.getRecord('deleted'), undefined);
                const gzGet = await request(b, { path: recordPath(store.id, 'gz'), headers: { 'Accept-Encoding': 'gzip' } });
                assert.equal(gzGet.headers['content-encoding'], 'gzip', 'the encoding is remembered');
                assert.ok(gzGet.body.equals(gz));
                assert.deepEqual((await kvs.listKeys()).items.map((i) => i.key), ['bin', 'gz', 'json', 'text']);
                assert.ok(again.stats.writeCount >= 5, `stats survive too: ${JSON.stringify(again.stats)}`);
                const unnamed = (await cb.keyValueStores().list({ unnamed: true })).items.filter((s) => !s.name);
                assert.equal(unnamed.length, 1, 'the unnamed store survives');
            } finally {
                await b.stop();
            }
        } finally {
            await d.remove();
        }
    });

    test('every acknowledged write survives SIGKILL right after its 2xx', T, async () => {
        const d = await tempDataDir();
        const token = randomToken();
        try {
            const a = await startServer({ token, dataDir: d.dir });
            const ca = makeClient(a);
            const store = await ca.keyValueStores().getOrCreate(uniqueName('kill'));
            const values = Array.from({ length: 100 }, (_, i) => randomBytes(500 + i * 37));
            const puts = await mapLimit(values, 100, (body, i) =>
                request(a, { method: 'PUT', path: recordPath(store.id, `r${i}`), body, headers: { 'Content-Type': 'application/octet-stream' } }),
            );
            puts.forEach((r, i) => assert.equal(r.status, 201, `write r${i}`));
            const del = await request(a, { method: 'DELETE', path: recordPath(store.id, 'r0') });
            assert.equal(del.status, 204);
            await a.stop({ signal: 'SIGKILL', expectCleanExit: false });

            const b = await startServer({ token, dataDir: d.dir });
            try {
                const cb = makeClient(b);
                const keys = (await cb.keyValueStore(store.id).listKeys()).items.map((x) => x.key);
                assert.equal(keys.length, 99, 'all acknowledged records (minus the deleted one) are there');
                assert.equal(await cb.keyValueStore(store.id).getRecord('r0'), undefined, 'the acknowledged delete is durable');
                await mapLimit(values.slice(1), 20, async (v, j) => {
                    const i = j + 1;
                    const res = await request(b, { path: recordPath(store.id, `r${i}`), headers: { 'Accept-Encoding': 'identity' } });
                    assert.equal(res.status, 200, `r${i}`);
                    assert.ok(res.body.equals(v), `r${i} exact bytes`);
                });
            } finally {
                await b.stop();
            }
        } finally {
            await d.remove();
        }
    });

    test('SIGTERM: stops accepting, finishes the upload in flight, exits 0; the upload is durable', T, async () => {
        const d = await tempDataDir();
        const token = randomToken();
        try {
            const a = await startServer({ token, dataDir: d.dir });
            const ca = makeClient(a);
            const store = await ca.keyValueStores().getOrCreate(uniqueName('inflight'));
            const body = randomBytes(2 * 1024 * 1024);
            const half = body.length / 2;

            // Start an upload and send half of it.
            const req = http.request({
                host: '127.0.0.1',
                port: a.port,
                method: 'PUT',
                path: recordPath(store.id, 'in-flight'),
                agent: false,
                headers: {
                    Authorization: `Bearer ${token}`,
                    'Content-Type': 'application/octet-stream',
                    'Content-Length': String(body.length),
                    Expect: '100-continue',
                },
            });
            // The server has taken the request once it answers "100 Continue" (like curl, go on after 1 s without it).
            const continued = new Promise((resolve) => {
                req.once('continue', resolve);
                setTimeout(resolve, ms(1000));
            });
            const done = new Promise((resolve, reject) => {
                req.on('response', (res) => {
                    const chunks = [];
                    res.on('data', (c) => chunks.push(c));
                    res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
                });
                req.on('error', reject);
            });
            req.flushHeaders();
            await continued;
            await new Promise((resolve) => req.write(body.subarray(0, half), resolve));

            a.proc.kill('SIGTERM');
            // New connections are refused (or answered 503) while the upload is still open.
            await waitFor(
                async () => {
                    try {
                        const r = await request(a.url, { path: '/health', timeoutMs: 1000 });
                        return r.status === 503;
                    } catch {
                        return true;
                    }
                },
                { timeoutMs: ms(5000), message: 'the server to stop accepting new requests after SIGTERM' },
            );
            req.end(body.subarray(half));
            const response = await done;
            assert.equal(response.status, 201, `the upload in flight completes: ${response.status} ${response.text}`);
            const exit = await a.stop();
            assert.deepEqual(exit, { code: 0, signal: null });

            const b = await startServer({ token, dataDir: d.dir });
            try {
                const res = await request(b, { path: recordPath(store.id, 'in-flight'), headers: { 'Accept-Encoding': 'identity' } });
                assert.equal(res.status, 200);
                assert.ok(res.body.equals(body), 'the record written during shutdown is complete');
            } finally {
                await b.stop();
            }
        } finally {
            await d.remove();
        }
    });
});
