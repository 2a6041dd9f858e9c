// `kvs import`: Apify/Crawlee local storage into kvstore.
//
// (a) the real `apify` SDK (3.7.2, with @crawlee/memory-storage) run locally, without a token,
//     writes records of several types into a temporary CRAWLEE_STORAGE_DIR, once in its default
//     layout (<KEY>.<ext>) and once with writeMetadata (sidecars, as the JS SDK writes them);
//     `kvs import --url --token` brings them in and every record's bytes and content type are
//     checked through the API;
// (b) a hand-made crawlee-python layout (percent-encoded file names, snake_case sidecars) is
//     imported with --data while the server runs;
// (c) hostile inputs — a symlink out of SRC, a sidecar with an invalid key, a malformed
//     sidecar, a name that is no key — are reported and skipped, the exit status is 1, and
//     nothing else changes;
// (d) --dry-run writes nothing.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { LMDB_ONLY, ON_PG } from '../lib/pg.mjs';
import { NEEDS_SPAWN, makeTempDir, ms, recordPath, request, runKvs, startServer, storePath, uniqueName } from '../lib/server.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const T = { timeout: ms(120_000) };
const out = (r) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

// What the SDK is asked to store: key → [value, options, expected bytes, expected content type].
// The content types are those the <KEY>.<ext> layout keeps exactly (the SDK's own defaults for
// objects, and types whose extension maps back to the same string).
const SDK_RECORDS = [
    ['obj', { a: 1, nested: { b: [1, 2, 'x'] } }, undefined, null, 'application/json; charset=utf-8'],
    ['greeting', 'hello, wörld', { contentType: 'text/plain; charset=utf-8' }, Buffer.from('hello, wörld'), 'text/plain; charset=utf-8'],
    ['shot', PNG, { contentType: 'image/png' }, PNG, 'image/png'],
    ['a-b_c.d', { dotted: true }, undefined, null, 'application/json; charset=utf-8'],
    ["x!'()", 'odd key', { contentType: 'text/plain; charset=utf-8' }, Buffer.from('odd key'), 'text/plain; charset=utf-8'],
    ['page', '<p>hi</p>', { contentType: 'text/html; charset=utf-8' }, Buffer.from('<p>hi</p>'), 'text/html; charset=utf-8'],
];
const expectedBytes = ([, value, , bytes]) => bytes ?? Buffer.from(JSON.stringify(value, null, 2));

/** Run the apify SDK in a child process (cwd = the repository, for its node_modules) writing
 *  SDK_RECORDS into the default store and into the store STORE, under STORAGE. */
async function runSdk(storage, store, writeMetadata) {
    const records = SDK_RECORDS.map(([k, v, o]) => [k, Buffer.isBuffer(v) ? { png: v.toString('hex') } : { v }, o ?? null]);
    const script = `
        import { Actor } from 'apify';
        import { MemoryStorage } from '@crawlee/memory-storage';
        const records = ${JSON.stringify(records)};
        await Actor.init(${writeMetadata ? '{ storage: new MemoryStorage({ writeMetadata: true }) }' : ''});
        const named = await Actor.openKeyValueStore(${JSON.stringify(store)});
        for (const [key, w, options] of records) {
            const value = w.png !== undefined ? Buffer.from(w.png, 'hex') : w.v;
            await Actor.setValue(key, value, options ?? undefined);
            await named.setValue(key, value, options ?? undefined);
        }
        // a key with its own extension: the file is named photo.png, read back as key photo
        // unless a sidecar keeps the key
        await named.setValue('photo.png', Buffer.from(records[2][1].png, 'hex'), { contentType: 'image/png' });
        await Actor.exit({ exit: false });
    `;
    const env = { ...process.env, CRAWLEE_STORAGE_DIR: storage };
    for (const k of Object.keys(env)) if (k.startsWith('APIFY_') || k === 'DEBUG') delete env[k];
    const r = await new Promise((resolve, reject) => {
        const p = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        p.stdout.on('data', (c) => (text += c));
        p.stderr.on('data', (c) => (text += c));
        p.on('error', reject);
        p.on('close', (code) => resolve({ code, text }));
    });
    assert.equal(r.code, 0, `the SDK run failed:\n${r.text}`);
}

async function getRecord(server, store, key) {
    return request(server, { path: recordPath(`admin~${store}`, encodeURIComponent(key)) });
}

async function keysOf(server, store) {
    const res = await request(server, { path: `${storePath(`admin~${store}`)}/keys` });
    if (res.status === 404) return null;
    assert.equal(res.status, 200, res.text);
    return res.json().data.items.map((i) => i.key);
}

async function storeNames(server) {
    const res = await request(server, { path: '/v2/key-value-stores?limit=1000&unnamed=1' });
    assert.equal(res.status, 200, res.text);
    return res.json().data.items.map((s) => s.name ?? s.id).sort();
}

describe('kvs import', { skip: NEEDS_SPAWN }, () => {
    let server;
    let tmp;
    const importUrl = (...args) => runKvs(['import', '--url', server.url, '--token', server.token, ...args], { timeoutMs: ms(60_000) });

    before(async () => {
        tmp = await makeTempDir('kvs-import-');
        server = await startServer();
    });
    after(async () => {
        await server?.stop();
        if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    });

    for (const writeMetadata of [false, true]) {
        test(`the apify SDK's local storage${writeMetadata ? ' with writeMetadata (sidecars)' : ''} comes back record by record`, T, async () => {
            const storage = path.join(tmp, `sdk-${writeMetadata}`);
            const store = uniqueName('sdk');
            await runSdk(storage, store, writeMetadata);
            const files = await fs.readdir(path.join(storage, 'key_value_stores', store));
            // the real layout: <KEY>.<ext>, and a sidecar per record with writeMetadata
            assert.ok(files.includes('shot.png') && files.includes('obj.json') && files.includes('a-b_c.d.json'), files.join(' '));
            assert.equal(files.some((f) => f.endsWith('.__metadata__.json')), writeMetadata, files.join(' '));

            const r = await importUrl(storage);
            assert.equal(r.code, 0, out(r));
            const n = SDK_RECORDS.length;
            assert.match(r.stdout, new RegExp(`^imported 2 stores, ${2 * n + 1} records, \\d+ bytes; skipped 0\\n$`), out(r));
            const photo = writeMetadata ? 'photo.png' : 'photo';
            const photoRes = await getRecord(server, store, photo);
            assert.equal(photoRes.status, 200, photoRes.text);
            assert.deepEqual(photoRes.body, PNG);
            assert.equal(photoRes.headers['content-type'], 'image/png');
            for (const name of [store, 'default']) {
                const extra = name === store ? [photo] : [];
                assert.deepEqual(await keysOf(server, name), [...SDK_RECORDS.map(([k]) => k), ...extra].sort());
                for (const rec of SDK_RECORDS) {
                    const res = await getRecord(server, name, rec[0]);
                    assert.equal(res.status, 200, `${name}/${rec[0]}: ${res.text}`);
                    assert.deepEqual(res.body, expectedBytes(rec), `${name}/${rec[0]} bytes`);
                    assert.equal(res.headers['content-type'], rec[4], `${name}/${rec[0]} content type`);
                }
            }
        });
    }

    test('a crawlee-python layout (encoded names, snake_case sidecars) imports with --data while the server runs', { ...T, skip: LMDB_ONLY }, async () => {
        const store = uniqueName('py');
        const dir = path.join(tmp, 'py', 'key_value_stores', store);
        await fs.mkdir(dir, { recursive: true });
        const meta = (o) => JSON.stringify(o, null, 2);
        await fs.writeFile(path.join(dir, '__metadata__.json'), meta({ id: 'a1b2c3', name: store, created_at: '2026-01-01T00:00:00Z', accessed_at: '2026-01-01T00:00:00Z', modified_at: '2026-01-01T00:00:00Z' }));
        const records = [
            // key, file stem (quote(key, safe='')), bytes, content type
            ['data!', 'data%21', Buffer.from('{"x": 1}'), 'application/json; charset=utf-8'],
            ["it's(1)", 'it%27s%281%29', Buffer.from('text'), 'text/plain; charset=utf-8'],
            ['blob', 'blob', Buffer.from([0, 1, 2, 255]), 'application/x-custom'],
            ['INPUT', 'INPUT', Buffer.from(''), 'application/json'],
        ];
        for (const [key, stem, bytes, type] of records) {
            await fs.writeFile(path.join(dir, stem), bytes);
            await fs.writeFile(path.join(dir, `${stem}.__metadata__.json`), meta({ key, content_type: type, size: bytes.length }));
        }
        const r = await runKvs(['import', '--data', server.dataDir, path.join(tmp, 'py')], { timeoutMs: ms(60_000) });
        assert.equal(r.code, 0, out(r));
        assert.match(r.stdout, /^imported 1 store, 4 records, 16 bytes; skipped 0\n$/, out(r));
        assert.deepEqual(await keysOf(server, store), records.map(([k]) => k).sort());
        for (const [key, , bytes, type] of records) {
            const res = await getRecord(server, store, key);
            assert.equal(res.status, 200, `${key}: ${res.text}`);
            assert.deepEqual(res.body, bytes, key);
            assert.equal(res.headers['content-type'], type, key);
        }
    });

    test('hostile inputs are reported and skipped, exit 1, and nothing else changes', T, async () => {
        const store = uniqueName('hostile');
        const dir = path.join(tmp, store);
        await fs.mkdir(dir);
        const secret = path.join(tmp, 'secret.txt');
        await fs.writeFile(secret, 'outside SRC');
        await fs.writeFile(path.join(dir, 'good.txt'), 'fine');
        await fs.symlink(secret, path.join(dir, 'evil.txt')); // out of SRC
        await fs.symlink(secret, path.join(dir, 'linked.__metadata__.json'));
        await fs.writeFile(path.join(dir, 'linked'), 'value of a linked sidecar');
        await fs.writeFile(path.join(dir, 'bad'), 'x');
        await fs.writeFile(path.join(dir, 'bad.__metadata__.json'), JSON.stringify({ key: '../../etc/passwd', contentType: 'text/plain' }));
        await fs.writeFile(path.join(dir, 'broken.txt'), 'y');
        await fs.writeFile(path.join(dir, 'broken.__metadata__.json'), '{"key": "broken", "contentType": ');
        await fs.writeFile(path.join(dir, 'crlf'), 'z');
        await fs.writeFile(path.join(dir, 'crlf.__metadata__.json'), JSON.stringify({ key: 'crlf', contentType: 'text/plain\r\nX-Evil: 1' }));
        await fs.writeFile(path.join(dir, 'sp ace.txt'), 'w');
        await fs.mkdir(path.join(dir, 'subdir'));
        const storesBefore = await storeNames(server);

        const dataArgs = ON_PG ? [] : [['--data', server.dataDir]]; /* --data: LMDB */
        for (const args of [['--url', server.url, '--token', server.token], ...dataArgs]) {
            const r = await runKvs(['import', ...args, dir], { timeoutMs: ms(60_000) });
            assert.equal(r.code, 1, out(r));
            assert.match(r.stdout, /^imported 1 store, 1 record, 4 bytes; skipped 11 \(/, out(r));
            for (const [file, why] of [
                ['evil.txt', 'symlink'],
                ['linked.__metadata__.json', 'symlink'],
                ['linked', 'bad metadata'],
                ['bad.__metadata__.json', 'invalid key'],
                ['bad', 'bad metadata'],
                ['broken.__metadata__.json', 'bad metadata'],
                ['broken.txt', 'bad metadata'],
                ['crlf.__metadata__.json', 'bad metadata'],
                ['crlf', 'bad metadata'],
                ['sp ace.txt', 'invalid key'],
                ['subdir', 'not a regular file'],
            ]) {
                assert.ok(r.stderr.includes(`skipped ${path.join(dir, file)} (${why})`), `${file} (${why}):\n${out(r)}`);
            }
            assert.deepEqual(await keysOf(server, store), ['good']);
            assert.deepEqual((await getRecord(server, store, 'good')).text, 'fine');
        }
        assert.equal(await fs.readFile(secret, 'utf8'), 'outside SRC');
        assert.deepEqual(await storeNames(server), [...storesBefore, store].sort());

        // a directory with nothing importable creates no store
        const empty = path.join(tmp, uniqueName('nothing'));
        await fs.mkdir(empty);
        await fs.symlink(secret, path.join(empty, 'only.txt'));
        const r = await importUrl(empty);
        assert.equal(r.code, 1, out(r));
        assert.match(r.stdout, /^imported 0 stores, 0 records, 0 bytes; skipped 1 \(symlink: 1\)\n$/, out(r));
        assert.equal(await keysOf(server, path.basename(empty)), null);

        // SRC itself a symlink, or not there: refused
        const link = path.join(tmp, 'link-to-store');
        await fs.symlink(dir, link);
        const viaLink = await importUrl(link);
        assert.equal(viaLink.code, 1, out(viaLink));
        assert.match(viaLink.stderr, /symbolic link/, out(viaLink));
        assert.equal((await importUrl(path.join(tmp, 'missing'))).code, 1);
        // a store directory whose name is no store name, and --store on a storage root
        const badName = path.join(tmp, 'not_a_name');
        await fs.mkdir(badName);
        await fs.writeFile(path.join(badName, 'k.txt'), 'v');
        const bn = await importUrl(badName);
        assert.equal(bn.code, 1, out(bn));
        assert.match(bn.stderr, /invalid store name/, out(bn));
        assert.deepEqual(await storeNames(server), [...storesBefore, store].sort());
        const root = path.join(tmp, 'root');
        await fs.mkdir(path.join(root, 'key_value_stores', 'x'), { recursive: true });
        const rs = await importUrl('--store', 'y', root);
        assert.equal(rs.code, 1, out(rs));
        assert.match(rs.stderr, /--store is for one store directory/, out(rs));
    });

    test('--dry-run reads and checks everything and writes nothing', T, async () => {
        const store = uniqueName('dry');
        const dir = path.join(tmp, store);
        await fs.mkdir(dir);
        await fs.writeFile(path.join(dir, 'a.json'), '{"a": 1}');
        await fs.writeFile(path.join(dir, 'b.png'), PNG);
        const before = await storeNames(server);
        const dataArgs = ON_PG ? [] : [['--data', server.dataDir]]; /* --data: LMDB */
        for (const args of [['--url', server.url, '--token', server.token], ...dataArgs, []]) {
            const r = await runKvs(['import', '--dry-run', ...args, dir]);
            assert.equal(r.code, 0, out(r));
            assert.equal(r.stdout, `dry run: would import 1 store, 2 records, ${8 + PNG.length} bytes; skipped 0\n`);
        }
        assert.deepEqual(await storeNames(server), before);
        assert.equal(await keysOf(server, store), null);
        // and then for real, into a store named with --store
        const other = uniqueName('named');
        const r = await importUrl('--store', other, dir);
        assert.equal(r.code, 0, out(r));
        assert.deepEqual(await keysOf(server, other), ['a', 'b']);
        assert.equal((await getRecord(server, other, 'b')).headers['content-type'], 'image/png');
    });
});
