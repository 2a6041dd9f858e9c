// `kvs export STORE DIR [--layout L]` (src/localfs/export.c): round trips through `kvs import`
// in every layout with keys that have dots, parentheses and characters that need encoding;
// the real apify SDK reading an export with Actor.getValue; and that nothing is ever written
// outside DIR, whatever the server answers or DIR holds.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

import { NEEDS_SPAWN, PNG_1X1, allBytes, ms, uniqueName } from '../lib/server.mjs';
import { REPO, fakeServer, kvs, sendJson, serverFixture, show } from './lib.mjs';

const T = { timeout: ms(120_000) };

function ok(r, what = '') {
    assert.equal(r.code, 0, `${what}\n${show(r)}`);
    return r;
}

// key → [value (Buffer), content type]: keys with dots, parentheses, quotes, bangs, a key with
// its own extension, keys that look like metadata files, types with and without an extension
// of their own, an empty value, a large value (uploaded Brotli-compressed by apify-client)
const RECORDS = {
    INPUT: [Buffer.from('{"query": "kvs", "n": 1}'), 'application/json; charset=utf-8'],
    'a.b.c': [Buffer.from('plain text, no charset'), 'text/plain'],
    'note.txt': [Buffer.from('text with its charset\n'), 'text/plain; charset=utf-8'],
    'photo.png': [PNG_1X1, 'image/png'],
    "x(1)!'y": [Buffer.from('<p>hi</p>'), 'text/html; charset=utf-8'],
    '...': [allBytes(2), 'application/octet-stream'],
    '.env': [Buffer.from('A=1'), 'application/x-env'],
    'weird.__metadata__': [Buffer.from('{"not": "metadata"}'), 'application/json; charset=utf-8'],
    __metadata__: [Buffer.from('[1, 2]'), 'application/json; charset=utf-8'],
    'data.__metadata__.json': [Buffer.from('"a value"'), 'application/json'],
    'my-file_v2.tar': [randomBytes(64), 'application/x-tar'],
    empty: [Buffer.alloc(0), 'text/plain; charset=utf-8'],
    big: [Buffer.from('lorem ipsum '.repeat(20_000)), 'text/plain; charset=utf-8'],
};

/** Every record of STORE (a client) as { key: [bytes, type] }. */
async function contents(kv) {
    const out = {};
    const { items } = await kv.listKeys({ limit: 1000 });
    for (const { key } of items) {
        const rec = await kv.getRecord(key, { buffer: true });
        out[key] = [Buffer.from(rec.value), rec.contentType];
    }
    return out;
}

describe('kvs export', { skip: NEEDS_SPAWN }, () => {
    let server, client, tmp;
    const ctx = serverFixture('kvs-export-');
    before(() => ({ server, client, tmp } = ctx));

    async function makeStore(name, records = RECORDS) {
        const store = await client.keyValueStores().getOrCreate(name);
        const kv = client.keyValueStore(store.id);
        for (const [key, [value, contentType]] of Object.entries(records)) await kv.setRecord({ key, value, contentType });
        return kv;
    }

    for (const layout of ['js', 'sidecar', 'python']) {
        test(`--layout ${layout}: kvs import gives back every key, byte and content type`, T, async () => {
            const name = uniqueName(layout);
            const src = await makeStore(name);
            const dir = path.join(tmp, `rt-${layout}`);
            const args = ['export', name, dir, ...(layout === 'js' ? [] : ['--layout', layout])];
            const r = ok(await kvs(server, args), 'export');
            const storeDir = path.join(dir, 'key_value_stores', name);
            assert.match(r.out, new RegExp(`^exported ${Object.keys(RECORDS).length} records, \\d+ bytes into .*${name}; skipped 0\\n$`));
            const files = (await fs.readdir(storeDir)).sort();
            assert.ok(files.includes('__metadata__.json'), files.join(' '));
            assert.ok(!files.some((f) => f.includes('.part')), 'no temporary file left');
            const sidecars = files.filter((f) => f.endsWith('.__metadata__.json'));
            if (layout === 'js') {
                // the SDK's own names where the extension says the type, sidecars only where not
                for (const f of ['INPUT.json', 'photo.png.png', "x(1)!'y.html", 'note.txt.txt', '....bin', 'my-file_v2.tar.tar', '%5F%5Fmetadata%5F%5F.json', 'weird.%5F%5Fmetadata%5F%5F.json']) assert.ok(files.includes(f), `${f} in ${files.join(' ')}`);
                assert.deepEqual(sidecars.sort(), ['.env.__metadata__.json', 'a.b.c.__metadata__.json', 'data.%5F%5Fmetadata%5F%5F.json.__metadata__.json'].sort());
                assert.deepEqual(JSON.parse(await fs.readFile(path.join(storeDir, 'a.b.c.__metadata__.json'), 'utf8')), { key: 'a.b.c', contentType: 'text/plain', extension: 'txt' });
            } else if (layout === 'sidecar') {
                assert.equal(sidecars.length, Object.keys(RECORDS).length);
            } else {
                assert.ok(files.includes('x%281%29%21%27y') && files.includes('x%281%29%21%27y.__metadata__.json'), files.join(' '));
                assert.ok(files.includes('data.__metadata__%2Ejson'), files.join(' '));
                const meta = JSON.parse(await fs.readFile(path.join(storeDir, 'x%281%29%21%27y.__metadata__.json'), 'utf8'));
                assert.deepEqual(meta, { key: "x(1)!'y", content_type: 'text/html; charset=utf-8', size: 9 });
            }
            const storeMeta = JSON.parse(await fs.readFile(path.join(storeDir, '__metadata__.json'), 'utf8'));
            assert.equal(storeMeta.name, name);
            assert.match(storeMeta.id, /^[A-Za-z0-9]{17}$/);

            const back = uniqueName(`back-${layout}`);
            const imp = ok(await kvs(server, ['import', '--store', back, storeDir]), 'import');
            assert.match(imp.out, /skipped 0\n$/);
            const want = Object.fromEntries(Object.entries(RECORDS).map(([k, [v, t]]) => [k, [v, t]]));
            assert.deepEqual(await contents(client.keyValueStore(`admin~${back}`)), want);
            assert.deepEqual(await contents(src), want, 'the source is untouched');
        });
    }

    test('the apify SDK, run locally on an export, reads the records with Actor.getValue', T, async () => {
        const records = {
            INPUT: [Buffer.from('{"query": "kvs"}'), 'application/json; charset=utf-8'],
            greeting: [Buffer.from('hello, wörld'), 'text/plain; charset=utf-8'],
            plain: [Buffer.from('no charset'), 'text/plain'],
            shot: [PNG_1X1, 'image/png'],
            "x(1)!'y": [Buffer.from('[1,2,3]'), 'application/json; charset=utf-8'],
            blob: [allBytes(1), 'application/x-custom'],
        };
        // the SDK's default store is the one named "default"
        const srcId = (await makeStore('default', records)) && (await client.keyValueStore('admin~default').get()).id;
        for (const layout of ['js', 'sidecar']) {
            const dir = path.join(tmp, `sdk-${layout}`);
            ok(await kvs(server, ['export', srcId, dir, '--layout', layout]));
            const script = `
                import { Actor } from 'apify';
                await Actor.init();
                const out = {};
                for (const key of ${JSON.stringify(Object.keys(records))}) {
                    const v = await Actor.getValue(key);
                    out[key] = Buffer.isBuffer(v) ? { buffer: v.toString('hex') } : v;
                }
                out.__input = await Actor.getInput();
                console.log(JSON.stringify(out));
                await Actor.exit({ exit: false });
            `;
            const env = { ...process.env, CRAWLEE_STORAGE_DIR: dir, CRAWLEE_PURGE_ON_START: '0' };
            for (const k of Object.keys(env)) if (k.startsWith('APIFY_') || k === 'DEBUG') delete env[k];
            const res = await new Promise((resolve, reject) => {
                const p = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
                let out = '';
                let err = '';
                p.stdout.on('data', (c) => (out += c));
                p.stderr.on('data', (c) => (err += c));
                p.on('error', reject);
                p.on('close', (code) => resolve({ code, out, err }));
            });
            assert.equal(res.code, 0, `${layout}: ${res.err}`);
            const got = JSON.parse(res.out.trim().split('\n').at(-1));
            assert.deepEqual(got.INPUT, { query: 'kvs' }, layout);
            assert.deepEqual(got.__input, { query: 'kvs' }, layout);
            assert.equal(got.greeting, 'hello, wörld', layout);
            assert.equal(got.plain, 'no charset', layout);
            assert.deepEqual(got.shot, { buffer: PNG_1X1.toString('hex') }, layout);
            assert.deepEqual(got["x(1)!'y"], [1, 2, 3], layout);
            assert.deepEqual(got.blob, { buffer: allBytes(1).toString('hex') }, layout);
        }
    });

    test('an unnamed store goes to a directory named by its ID; a store that does not exist is exit 3', T, async () => {
        const unnamed = await client.keyValueStores().getOrCreate();
        await client.keyValueStore(unnamed.id).setRecord({ key: 'k', value: 'v', contentType: 'text/plain' });
        const dir = path.join(tmp, 'unnamed');
        ok(await kvs(server, ['export', unnamed.id, dir]));
        assert.deepEqual((await fs.readdir(path.join(dir, 'key_value_stores'))), [unnamed.id]);
        const meta = JSON.parse(await fs.readFile(path.join(dir, 'key_value_stores', unnamed.id, '__metadata__.json'), 'utf8'));
        assert.equal(meta.name, null);
        const missing = await kvs(server, ['export', 'no-such-store', path.join(tmp, 'missing')]);
        assert.equal(missing.code, 3, show(missing));
        assert.match(missing.stderr, /^kvs: no store 'no-such-store' \(HTTP 404\)/);
    });

    test('a key too long for a file name is reported and skipped (exit 1), the others exported', T, async () => {
        const name = uniqueName('long');
        const long = 'k'.repeat(256);
        await makeStore(name, { [long]: [Buffer.from('x'), 'application/octet-stream'], ['k'.repeat(250)]: [Buffer.from('y'), 'application/octet-stream'], short: [Buffer.from('z'), 'text/plain'] });
        const r = await kvs(server, ['export', name, path.join(tmp, 'long')]);
        assert.equal(r.code, 1, show(r));
        assert.match(r.out, /^exported 2 records, 2 bytes into .*; skipped 1\n$/);
        assert.match(r.stderr, new RegExp(`^kvs: export: skipped ${long}: the key is too long for a file name`));
    });

    test('nothing is written outside DIR: links are not followed, a store directory must be empty', T, async () => {
        const name = uniqueName('safe');
        await makeStore(name, { k: [Buffer.from('v'), 'text/plain'] });
        const outside = path.join(tmp, 'outside');
        await fs.mkdir(outside);
        // DIR/key_value_stores is a link out of DIR
        const d1 = path.join(tmp, 'link1');
        await fs.mkdir(d1);
        await fs.symlink(outside, path.join(d1, 'key_value_stores'));
        const r1 = await kvs(server, ['export', name, d1]);
        assert.equal(r1.code, 1, show(r1));
        assert.match(r1.stderr, /symbolic link/);
        // DIR/key_value_stores/<name> is a link out of DIR
        const d2 = path.join(tmp, 'link2');
        await fs.mkdir(path.join(d2, 'key_value_stores'), { recursive: true });
        await fs.symlink(outside, path.join(d2, 'key_value_stores', name));
        const r2 = await kvs(server, ['export', name, d2]);
        assert.equal(r2.code, 1, show(r2));
        assert.deepEqual(await fs.readdir(outside), [], 'nothing written through the links');
        // a store directory that holds something is refused: an export is the store alone
        const d3 = path.join(tmp, 'full');
        await fs.mkdir(path.join(d3, 'key_value_stores', name), { recursive: true });
        await fs.writeFile(path.join(d3, 'key_value_stores', name, 'stale.json'), '{}');
        const r3 = await kvs(server, ['export', name, d3]);
        assert.equal(r3.code, 1, show(r3));
        assert.match(r3.stderr, /not empty/);
        assert.deepEqual(await fs.readdir(path.join(d3, 'key_value_stores', name)), ['stale.json']);
    });

    test('nothing is written outside DIR whatever a (hostile) server answers for names and keys', T, async () => {
        const base = { userId: 'UUUUUUUUUUUUUUUUU', username: 'u', createdAt: '2026-01-01T00:00:00.000Z', modifiedAt: '2026-01-01T00:00:00.000Z', accessedAt: '2026-01-01T00:00:00.000Z', stats: {} };
        const stores = {
            evilname: { ...base, id: 'AAAAAAAAAAAAAAAAA', name: '../../escaped' },
            evilid: { ...base, id: '../../escaped-id', name: null },
            evilkeys: { ...base, id: 'BBBBBBBBBBBBBBBBB', name: 'evilkeys' },
        };
        const keys = ['../../escaped-key', 'a/b', '..', '.', 'ok-key', '/abs', 'x\\y'];
        const fake = await fakeServer((req, body, res) => {
            const u = new URL(req.url, 'http://x');
            const m = u.pathname.match(/^\/v2\/key-value-stores\/([^/]+)(\/keys|\/records\/(.*))?$/);
            const store = m && stores[decodeURIComponent(m[1])] ? stores[decodeURIComponent(m[1])] : Object.values(stores).find((s) => m && s.id === decodeURIComponent(m[1]));
            if (!store) return sendJson(res, 404, { error: { type: 'record-not-found', message: 'no' } });
            if (!m[2]) return sendJson(res, 200, { data: store });
            if (m[2] === '/keys') return sendJson(res, 200, { data: { items: keys.map((key) => ({ key, size: 1, recordPublicUrl: 'http://x/' })), count: keys.length, limit: 1000, exclusiveStartKey: null, isTruncated: false, nextExclusiveStartKey: null } });
            res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
            res.end('v');
        });
        try {
            const root = path.join(tmp, 'hostile');
            const dir = path.join(root, 'a', 'b', 'DIR');
            const env = { KVS_URL: fake.url, KVS_TOKEN: 't' };
            for (const s of ['evilname', 'evilid']) {
                const r = await kvs(null, ['export', s, dir, '--retries', '0'], { env });
                assert.equal(r.code, 1, show(r));
                assert.match(r.stderr, /store name or ID is not valid/);
            }
            const r = await kvs(null, ['export', 'evilkeys', dir, '--retries', '0'], { env });
            assert.equal(r.code, 1, show(r));
            assert.match(r.out, /^exported 1 record, 1 bytes into .*; skipped 6\n$/);
            assert.equal(r.stderr.trim().split('\n').length, 6, r.stderr);
            // the only files anywhere under the temporary root are the store's two
            const all = [];
            const walk = async (d) => {
                for (const e of await fs.readdir(d, { withFileTypes: true })) {
                    const p = path.join(d, e.name);
                    if (e.isDirectory()) await walk(p);
                    else all.push(path.relative(root, p));
                }
            };
            await walk(root);
            assert.deepEqual(all.sort(), ['a/b/DIR/key_value_stores/evilkeys/__metadata__.json', 'a/b/DIR/key_value_stores/evilkeys/ok-key.txt'].sort());
            assert.ok(!(await fs.readdir(tmp)).some((f) => f.startsWith('escaped')));
        } finally {
            await fake.close();
        }
    });
});
