// Records: round trips of every kind of value, content types and encodings, HEAD, DELETE,
// attachment, key validation and the record size limit (contract §1.4, §5, §6.1, §8, §10).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';

import {
    CAN_SPAWN,
    MiB,
    NEEDS_SPAWN,
    PNG_1X1,
    allBytes,
    assertApiError,
    assertClientError,
    createStore,
    getStoreRaw,
    makeClient,
    ms,
    recordPath,
    request,
    startServer,
    storePath,
} from '../lib/server.mjs';

const T = { timeout: ms(30_000) };
const T_BIG = { timeout: ms(120_000) };

let server;
let client;

before(async () => {
    server = await startServer();
    client = makeClient(server);
});

after(async () => {
    await server?.stop();
});

/** Raw PUT (or METHOD) of BODY under KEY (as it appears in the URL) with HEADERS. */
function putRaw(storeId, key, body, headers = {}, method = 'PUT', extra = {}) {
    return request(server, { method, path: recordPath(storeId, key), body, headers, ...extra });
}

/** Raw GET of KEY with the given Accept-Encoding (null: header not sent). */
function getRaw(storeId, key, acceptEncoding = 'identity', query = '') {
    const headers = acceptEncoding === null ? {} : { 'Accept-Encoding': acceptEncoding };
    return request(server, { path: recordPath(storeId, key) + query, headers });
}

/** The keys of a store (one page is enough for these tests). */
async function keysOf(kvs) {
    return (await kvs.listKeys()).items.map((i) => i.key);
}

function assertCreated(res, storeId, key) {
    assert.equal(res.status, 201, `PUT/POST status; body: ${res.text.slice(0, 300)}`);
    assert.match(res.headers['content-type'] || '', /^application\/json\b/i, 'Content-Type of the 201 body');
    assert.deepEqual(res.json(), {}, 'the 201 body is {}');
    assert.ok(res.headers.location, 'Location header');
    const loc = new URL(res.headers.location, server.url);
    assert.ok(
        loc.pathname.endsWith(`/v2/key-value-stores/${storeId}/records/${key}`),
        `Location ${res.headers.location} names the record`,
    );
}

describe('round trips through the client', () => {
    test('JSON object (client default application/json; charset=utf-8)', T, async () => {
        const { kvs } = await createStore(client, 'json');
        const value = { a: 1, nested: { list: [1, 'two', null, true], s: 'žluťoučký kůň' } };
        await kvs.setRecord({ key: 'obj', value });
        const rec = await kvs.getRecord('obj');
        assert.equal(rec.key, 'obj');
        assert.deepEqual(rec.value, value);
        assert.equal(rec.contentType, 'application/json; charset=utf-8');
    });

    test('text/plain; charset=utf-8 is kept exactly', T, async () => {
        const { kvs } = await createStore(client, 'text');
        const value = 'Hello, world! Příliš žluťoučký kůň 🐎\n';
        await kvs.setRecord({ key: 'txt', value, contentType: 'text/plain; charset=utf-8' });
        const rec = await kvs.getRecord('txt');
        assert.equal(rec.value, value);
        assert.equal(rec.contentType, 'text/plain; charset=utf-8');
    });

    test('HTML is served raw with its content type', T, async () => {
        const { kvs } = await createStore(client, 'html');
        const value = '<!doctype html><html><head><title>t</title></head><body><script>x=1</script><p>hi</p></body></html>';
        await kvs.setRecord({ key: 'page.html', value, contentType: 'text/html; charset=utf-8' });
        const rec = await kvs.getRecord('page.html');
        assert.equal(rec.value, value);
        assert.equal(rec.contentType, 'text/html; charset=utf-8');
    });

    test('PNG bytes come back identical as image/png', T, async () => {
        const { kvs } = await createStore(client, 'png');
        await kvs.setRecord({ key: 'pixel.png', value: PNG_1X1, contentType: 'image/png' });
        const rec = await kvs.getRecord('pixel.png');
        assert.equal(rec.contentType, 'image/png');
        assert.ok(Buffer.isBuffer(rec.value));
        assert.ok(rec.value.equals(PNG_1X1));
    });

    test('binary with all 256 byte values (small and compressed-by-client sizes)', T, async () => {
        const { kvs } = await createStore(client, 'bin');
        for (const [key, value] of [
            ['bytes-256', allBytes(1)],
            ['bytes-64k', Buffer.concat([allBytes(16), randomBytes(60_000)])],
        ]) {
            await kvs.setRecord({ key, value, contentType: 'application/octet-stream' });
            const rec = await kvs.getRecord(key, { buffer: true });
            assert.equal(rec.contentType, 'application/octet-stream');
            assert.ok(rec.value.equals(value), `${key} identical`);
        }
        // A Buffer without content type gets the client's default application/octet-stream.
        await kvs.setRecord({ key: 'default-type', value: allBytes(2) });
        const rec = await kvs.getRecord('default-type');
        assert.equal(rec.contentType, 'application/octet-stream');
        assert.ok(rec.value.equals(allBytes(2)));
    });

    test('a 5 KiB text that the client uploads Brotli-compressed comes back identical', T, async () => {
        const { store, kvs } = await createStore(client, 'brotli');
        const value = 'The quick brown fox jumps over the lazy dog. '.repeat(114).slice(0, 5 * 1024);
        assert.equal(Buffer.byteLength(value), 5120);
        await kvs.setRecord({ key: 'big-text', value, contentType: 'text/plain; charset=utf-8' });
        const rec = await kvs.getRecord('big-text');
        assert.equal(rec.value, value);
        assert.equal(rec.contentType, 'text/plain; charset=utf-8');
        // Stored as uploaded (br): served as br to a client that takes it, decoded otherwise.
        const br = await getRaw(store.id, 'big-text', 'br');
        assert.equal(br.status, 200);
        assert.equal(br.headers['content-encoding'], 'br');
        assert.equal(zlib.brotliDecompressSync(br.body).toString('utf8'), value);
        const plain = await getRaw(store.id, 'big-text', 'identity');
        assert.equal(plain.status, 200);
        assert.equal(plain.headers['content-encoding'], undefined, 'no Content-Encoding when decoded');
        assert.equal(plain.text, value);
        assert.equal(plain.headers['content-type'], 'text/plain; charset=utf-8');
        // The keys list reports the stored (compressed) size (§10).
        const item = (await kvs.listKeys()).items.find((i) => i.key === 'big-text');
        assert.equal(item.size, br.body.length, 'size = stored Brotli bytes');
        assert.ok(item.size < 5120);
    });

    test('a large JSON value (compressed by the client) round-trips', T, async () => {
        const { kvs } = await createStore(client, 'bigjson');
        const value = { rows: Array.from({ length: 2000 }, (_, i) => ({ i, name: `row-${i}`, ok: i % 2 === 0 })) };
        await kvs.setRecord({ key: 'rows', value });
        const rec = await kvs.getRecord('rows');
        assert.deepEqual(rec.value, value);
    });

    test('an overwrite replaces value and content type', T, async () => {
        const { kvs } = await createStore(client, 'overwrite');
        await kvs.setRecord({ key: 'k', value: { v: 1 } });
        await kvs.setRecord({ key: 'k', value: 'now text', contentType: 'text/plain' });
        const rec = await kvs.getRecord('k');
        assert.equal(rec.value, 'now text');
        assert.equal(rec.contentType, 'text/plain');
        assert.deepEqual(await keysOf(kvs), ['k']);
    });

    test('a record uploaded without Content-Type is still served with one (the Python client requires it)', T, async () => {
        const { store } = await createStore(client, 'no-ctype');
        const res = await putRaw(store.id, 'k', 'no type given');
        assertCreated(res, store.id, 'k');
        const got = await getRaw(store.id, 'k');
        assert.equal(got.status, 200);
        assert.ok((got.headers['content-type'] || '').length > 0, 'GET has a Content-Type');
        assert.equal(got.text, 'no type given');
    });

    test('an empty value is a valid record', T, async () => {
        const { store, kvs } = await createStore(client, 'empty');
        const res = await putRaw(store.id, 'empty', Buffer.alloc(0), { 'Content-Type': 'text/plain' });
        assertCreated(res, store.id, 'empty');
        const got = await getRaw(store.id, 'empty');
        assert.equal(got.status, 200);
        assert.equal(got.body.length, 0);
        assert.equal(got.headers['content-type'], 'text/plain');
        assert.equal(await kvs.recordExists('empty'), true);
    });

    test('records are reachable through admin~name and ~name store references', T, async () => {
        const { store } = await createStore(client, 'byname');
        await client.keyValueStore(`admin/${store.name}`).setRecord({ key: 'k', value: { via: 'name' } });
        assert.deepEqual((await client.keyValueStore(store.id).getRecord('k')).value, { via: 'name' });
        assert.deepEqual((await client.keyValueStore(`~${store.name}`).getRecord('k')).value, { via: 'name' });
        assert.deepEqual((await client.keyValueStore(store.name).getRecord('k')).value, { via: 'name' });
    });
});

describe('content types are stored exactly as sent', () => {
    for (const ct of [
        'text/plain; charset=utf-8',
        'application/json;charset=UTF-8',
        'text/html',
        'application/x-custom+json; profile="urn:x"; v=2',
        'Text/CSV; Charset=ISO-8859-2',
        'image/svg+xml',
    ]) {
        test(`Content-Type ${JSON.stringify(ct)}`, T, async () => {
            const { store } = await createStore(client, 'ctype');
            const body = Buffer.from('a,b,c\n1,2,3\n');
            assertCreated(await putRaw(store.id, 'k', body, { 'Content-Type': ct }), store.id, 'k');
            const got = await getRaw(store.id, 'k');
            assert.equal(got.status, 200);
            assert.equal(got.headers['content-type'], ct);
            assert.ok(got.body.equals(body));
            const head = await request(server, { method: 'HEAD', path: recordPath(store.id, 'k') });
            assert.equal(head.headers['content-type'], ct, 'HEAD has the same Content-Type');
        });
    }
});

describe('PUT/POST responses', () => {
    test('PUT → 201, body {}, Location of the record', T, async () => {
        const { store } = await createStore(client, 'put201');
        assertCreated(await putRaw(store.id, 'my-key', '{"x":1}', { 'Content-Type': 'application/json' }), store.id, 'my-key');
    });

    test('POST behaves like PUT', T, async () => {
        const { store, kvs } = await createStore(client, 'post');
        const res = await putRaw(store.id, 'posted', 'posted value', { 'Content-Type': 'text/plain' }, 'POST');
        assertCreated(res, store.id, 'posted');
        const rec = await kvs.getRecord('posted');
        assert.equal(rec.value, 'posted value');
        assert.equal(rec.contentType, 'text/plain');
        // POST over an existing record replaces it
        assertCreated(await putRaw(store.id, 'posted', 'second', { 'Content-Type': 'text/plain' }, 'POST'), store.id, 'posted');
        assert.equal((await kvs.getRecord('posted')).value, 'second');
        // POST with gzip encoding is stored as uploaded too
        const gz = zlib.gzipSync(Buffer.from('gzip via POST'));
        assertCreated(await putRaw(store.id, 'posted-gz', gz, { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' }, 'POST'), store.id, 'posted-gz');
        assert.equal((await getRaw(store.id, 'posted-gz', 'identity')).text, 'gzip via POST');
    });
});

describe('Content-Encoding', () => {
    const TEXT = 'compressed content — ' + 'lorem ipsum dolor sit amet '.repeat(200);
    const encoders = {
        gzip: (b) => zlib.gzipSync(b),
        deflate: (b) => zlib.deflateSync(b),
        br: (b) => zlib.brotliCompressSync(b),
    };

    for (const [enc, encode] of Object.entries(encoders)) {
        test(`${enc}: stored as uploaded, served as ${enc} when accepted, decoded otherwise`, T, async () => {
            const { store, kvs } = await createStore(client, `enc-${enc}`);
            const encoded = encode(Buffer.from(TEXT));
            const ct = 'text/plain; charset=utf-8';
            assertCreated(await putRaw(store.id, 'rec', encoded, { 'Content-Type': ct, 'Content-Encoding': enc }), store.id, 'rec');

            const asIs = await getRaw(store.id, 'rec', enc);
            assert.equal(asIs.status, 200);
            assert.equal(asIs.headers['content-encoding'], enc, `Accept-Encoding: ${enc} → Content-Encoding: ${enc}`);
            assert.equal(asIs.headers['content-type'], ct);
            assert.ok(asIs.body.equals(encoded), 'the stored bytes, unchanged');

            const identity = await getRaw(store.id, 'rec', 'identity');
            assert.equal(identity.status, 200);
            assert.equal(identity.headers['content-encoding'], undefined, 'decoded: no Content-Encoding');
            assert.equal(identity.headers['content-type'], ct);
            assert.equal(identity.text, TEXT);

            const other = Object.keys(encoders).find((e) => e !== enc);
            const decodedForOther = await getRaw(store.id, 'rec', other);
            assert.equal(decodedForOther.status, 200);
            assert.ok(
                decodedForOther.headers['content-encoding'] === undefined || decodedForOther.headers['content-encoding'] === 'identity',
                `Accept-Encoding: ${other} does not allow ${enc}: got ${decodedForOther.headers['content-encoding']}`,
            );
            assert.equal(decodedForOther.text, TEXT);

            const many = await getRaw(store.id, 'rec', `${other}, ${enc}`);
            assert.equal(many.headers['content-encoding'], enc, 'a list that includes the encoding allows it');
            assert.ok(many.body.equals(encoded));

            const refused = await getRaw(store.id, 'rec', `${enc};q=0, identity`);
            assert.equal(refused.headers['content-encoding'], undefined, `${enc};q=0 does not allow ${enc}`);
            assert.equal(refused.text, TEXT);

            // The client (axios accepts gzip, deflate, br) decodes transparently.
            const rec = await kvs.getRecord('rec');
            assert.equal(rec.value, TEXT);
            assert.equal(rec.contentType, ct);

            // size in the keys list = stored bytes (§10)
            assert.equal((await kvs.listKeys()).items[0].size, encoded.length);
        });
    }

    for (const enc of ['gzip', 'deflate', 'br']) {
        test(`a body that is not valid ${enc} → 400, nothing stored`, T, async () => {
            const { store, kvs } = await createStore(client, 'enc-corrupt');
            const good = encoders[enc](Buffer.from(TEXT));
            const corrupt = Buffer.concat([good.subarray(0, 10), Buffer.from('this is not compressed data at all'), good.subarray(10, 40)]);
            const res = await putRaw(store.id, 'rec', corrupt, { 'Content-Type': 'text/plain', 'Content-Encoding': enc });
            assertApiError(res, 400, undefined, `corrupt ${enc}`);
            assert.equal(await kvs.getRecord('rec'), undefined);
        });
    }

    test('Content-Encoding: identity is stored as plain bytes', T, async () => {
        const { store } = await createStore(client, 'enc-identity');
        assertCreated(await putRaw(store.id, 'rec', 'plain', { 'Content-Type': 'text/plain', 'Content-Encoding': 'identity' }), store.id, 'rec');
        const got = await getRaw(store.id, 'rec', 'gzip, deflate, br');
        assert.equal(got.text, 'plain');
        assert.ok(!got.headers['content-encoding'] || got.headers['content-encoding'] === 'identity');
    });

    test('HEAD of an encoded record has the same headers as its GET', T, async () => {
        const { store } = await createStore(client, 'enc-head');
        const encoded = zlib.gzipSync(Buffer.from(TEXT));
        await putRaw(store.id, 'rec', encoded, { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' });
        const get = await getRaw(store.id, 'rec', 'gzip');
        const head = await request(server, { method: 'HEAD', path: recordPath(store.id, 'rec'), headers: { 'Accept-Encoding': 'gzip' } });
        assert.equal(head.status, 200);
        assert.equal(head.body.length, 0);
        assert.equal(head.headers['content-type'], get.headers['content-type']);
        assert.equal(head.headers['content-encoding'], 'gzip');
        assert.equal(head.headers['content-length'], String(encoded.length));
    });

    for (const bad of ['bla', 'compress', 'zstd', 'gzip, br']) {
        test(`Content-Encoding: ${bad} → 415 unsupported-content-encoding, nothing stored`, T, async () => {
            const { store, kvs } = await createStore(client, 'enc-bad');
            await kvs.setRecord({ key: 'existing', value: 'old', contentType: 'text/plain' });
            const stats0 = (await getStoreRaw(server, store.id)).stats;
            const res = await putRaw(store.id, 'new', 'data', { 'Content-Type': 'text/plain', 'Content-Encoding': bad });
            assertApiError(res, 415, 'unsupported-content-encoding', `Content-Encoding ${bad}`);
            const res2 = await putRaw(store.id, 'existing', 'data', { 'Content-Type': 'text/plain', 'Content-Encoding': bad });
            assertApiError(res2, 415, 'unsupported-content-encoding', `Content-Encoding ${bad} over an existing record`);
            assert.equal(await kvs.getRecord('new'), undefined, 'nothing stored');
            assert.equal((await kvs.getRecord('existing')).value, 'old', 'the existing record is unchanged');
            const stats1 = (await getStoreRaw(server, store.id)).stats;
            assert.equal(stats1.writeCount, stats0.writeCount, 'writeCount unchanged');
            assert.equal(stats1.storageBytes, stats0.storageBytes, 'storageBytes unchanged');
        });
    }
});

describe('HEAD, DELETE, attachment', () => {
    test('HEAD of an existing record: 200, same Content-Type and Content-Length as GET, no body', T, async () => {
        const { store, kvs } = await createStore(client, 'head');
        const body = Buffer.from('head me, please');
        await putRaw(store.id, 'h', body, { 'Content-Type': 'text/plain; charset=utf-8' });
        const get = await getRaw(store.id, 'h');
        const head = await request(server, { method: 'HEAD', path: recordPath(store.id, 'h'), headers: { 'Accept-Encoding': 'identity' } });
        assert.equal(head.status, 200);
        assert.equal(head.body.length, 0);
        assert.equal(head.headers['content-type'], 'text/plain; charset=utf-8');
        assert.equal(head.headers['content-type'], get.headers['content-type']);
        assert.equal(head.headers['content-length'], String(body.length));
        assert.equal(get.headers['content-length'], String(body.length));
        assert.equal(await kvs.recordExists('h'), true);
    });

    test('HEAD of a missing record: 404; recordExists false', T, async () => {
        const { store, kvs } = await createStore(client, 'head-missing');
        const head = await request(server, { method: 'HEAD', path: recordPath(store.id, 'nope') });
        assert.equal(head.status, 404);
        assert.equal(head.body.length, 0);
        assert.equal(await kvs.recordExists('nope'), false);
        assert.equal(await client.keyValueStore('AAAAAAAAAAAAAAAAA').recordExists('nope'), false, 'missing store');
    });

    test('GET of a missing record → 404 record-not-found; getRecord undefined', T, async () => {
        const { store, kvs } = await createStore(client, 'get-missing');
        assertApiError(await getRaw(store.id, 'nope'), 404, 'record-not-found');
        assert.equal(await kvs.getRecord('nope'), undefined);
        assertApiError(await getRaw('AAAAAAAAAAAAAAAAA', 'nope'), 404, 'record-not-found', 'missing store');
    });

    test('DELETE → 204 empty; the record is gone', T, async () => {
        const { store, kvs } = await createStore(client, 'delete');
        await kvs.setRecord({ key: 'a', value: 1 });
        await kvs.setRecord({ key: 'b', value: 2 });
        const res = await request(server, { method: 'DELETE', path: recordPath(store.id, 'a') });
        assert.equal(res.status, 204);
        assert.equal(res.body.length, 0);
        assert.equal(await kvs.getRecord('a'), undefined);
        assert.equal(await kvs.recordExists('a'), false);
        assert.deepEqual(await keysOf(kvs), ['b']);
        await kvs.deleteRecord('b');
        assert.equal(await kvs.getRecord('b'), undefined);
        assert.deepEqual(await keysOf(kvs), []);
    });

    test('DELETE of a missing record → 204 (client deleteRecord does not throw)', T, async () => {
        const { store, kvs } = await createStore(client, 'delete-missing');
        const res = await request(server, { method: 'DELETE', path: recordPath(store.id, 'never-was') });
        assert.equal(res.status, 204);
        await kvs.deleteRecord('never-was');
    });

    test('DELETE of a record in a missing store → 404 record-not-found', T, async () => {
        assertApiError(await request(server, { method: 'DELETE', path: recordPath('AAAAAAAAAAAAAAAAA', 'k') }), 404, 'record-not-found');
    });

    test('attachment=true / 1 adds Content-Disposition: attachment; without it there is none', T, async () => {
        const { store } = await createStore(client, 'attach');
        await putRaw(store.id, 'report.html', '<p>x</p>', { 'Content-Type': 'text/html' });
        for (const q of ['?attachment=true', '?attachment=1']) {
            const res = await getRaw(store.id, 'report.html', 'identity', q);
            assert.equal(res.status, 200);
            assert.match(res.headers['content-disposition'] || '', /^attachment\b/i, `${q}: ${res.headers['content-disposition']}`);
            assert.equal(res.text, '<p>x</p>');
            assert.equal(res.headers['content-type'], 'text/html');
        }
        const plain = await getRaw(store.id, 'report.html', 'identity');
        assert.ok(!/attachment/i.test(plain.headers['content-disposition'] || ''), 'no attachment without the parameter');
        const off = await getRaw(store.id, 'report.html', 'identity', '?attachment=false');
        assert.ok(!/attachment/i.test(off.headers['content-disposition'] || ''), 'attachment=false');
    });

    test('disableRedirect is accepted and ignored', T, async () => {
        const { store } = await createStore(client, 'noredir');
        await putRaw(store.id, 'k', 'v', { 'Content-Type': 'text/plain' });
        const res = await getRaw(store.id, 'k', 'identity', '?disableRedirect=true');
        assert.equal(res.status, 200);
        assert.equal(res.text, 'v');
    });
});

describe('record keys', () => {
    const INVALID = [
        ['257 characters', 'k'.repeat(257)],
        ['a space', 'a%20b'],
        ['a slash (%2F)', 'a%2Fb'],
        ['a NUL byte', 'a%00b'],
        ['a tilde (%7E)', 'a%7Eb'],
        ['a raw tilde', 'a~b'],
        ['non-ASCII é', 'caf%C3%A9'],
        ['a colon', 'a%3Ab'],
        ['a percent sign', 'a%25b'],
        ['a plus', 'a+b'],
        ['a malformed escape', 'a%zzb'],
    ];

    for (const [what, encoded] of INVALID) {
        test(`a key with ${what} → 400 invalid-record-key on PUT/GET/DELETE, nothing stored`, T, async () => {
            const { store, kvs } = await createStore(client, 'badkey');
            const put = await putRaw(store.id, encoded, 'value', { 'Content-Type': 'text/plain' });
            assertApiError(put, 400, 'invalid-record-key', `PUT ${encoded.slice(0, 40)}`);
            const post = await putRaw(store.id, encoded, 'value', { 'Content-Type': 'text/plain' }, 'POST');
            assertApiError(post, 400, 'invalid-record-key', `POST ${encoded.slice(0, 40)}`);
            assertApiError(await getRaw(store.id, encoded), 400, 'invalid-record-key', `GET ${encoded.slice(0, 40)}`);
            const del = await request(server, { method: 'DELETE', path: recordPath(store.id, encoded) });
            assertApiError(del, 400, 'invalid-record-key', `DELETE ${encoded.slice(0, 40)}`);
            const head = await request(server, { method: 'HEAD', path: recordPath(store.id, encoded) });
            assert.equal(head.status, 400, 'HEAD');
            assert.deepEqual(await keysOf(kvs), [], 'nothing stored');
            assert.equal((await getStoreRaw(server, store.id)).stats.writeCount, 0, 'no write counted');
        });
    }

    test('a key with every allowed special character !-_.\'() works', T, async () => {
        const { store, kvs } = await createStore(client, 'special');
        const key = "a!b-c_d.e'f(g)h";
        await kvs.setRecord({ key, value: { special: true } });
        assert.deepEqual((await kvs.getRecord(key)).value, { special: true });
        assert.equal(await kvs.recordExists(key), true);
        assert.deepEqual(await keysOf(kvs), [key]);
        // The same key percent-encoded in the URL is the same record.
        const enc = "a%21b-c_d.e%27f%28g%29h";
        const got = await getRaw(store.id, enc);
        assert.equal(got.status, 200);
        assert.deepEqual(JSON.parse(got.text), { special: true });
        const keyOnly = "!-_.'()";
        await kvs.setRecord({ key: keyOnly, value: 'only specials', contentType: 'text/plain' });
        assert.equal((await kvs.getRecord(keyOnly)).value, 'only specials');
        await kvs.deleteRecord(key);
        assert.equal(await kvs.getRecord(key), undefined);
    });

    test('a 256-character key works', T, async () => {
        const { kvs } = await createStore(client, 'longkey');
        const key = 'K'.repeat(128) + 'k'.repeat(127) + '9';
        assert.equal(key.length, 256);
        await kvs.setRecord({ key, value: 'long', contentType: 'text/plain' });
        assert.equal((await kvs.getRecord(key)).value, 'long');
        assert.deepEqual(await keysOf(kvs), [key]);
    });

    test('keys are case-sensitive', T, async () => {
        const { kvs } = await createStore(client, 'case');
        await kvs.setRecord({ key: 'Key', value: 'upper', contentType: 'text/plain' });
        await kvs.setRecord({ key: 'key', value: 'lower', contentType: 'text/plain' });
        assert.equal((await kvs.getRecord('Key')).value, 'upper');
        assert.equal((await kvs.getRecord('key')).value, 'lower');
        assert.deepEqual(await keysOf(kvs), ['Key', 'key']);
    });

    test('the keys "." and ".." are refused (no URL can address them); nothing else is touched', T, async () => {
        const { store, kvs } = await createStore(client, 'dots');
        await kvs.setRecord({ key: 'other', value: 'keep', contentType: 'text/plain' });
        for (const key of ['.', '..']) {
            // WHATWG URL parsing turns /records/. and /records/.. into the store's path, so the
            // raw helper sends them percent-encoded; the server decodes and refuses them.
            const put = await putRaw(store.id, key, `dot ${key}`, { 'Content-Type': 'text/plain' });
            assertApiError(put, 400, 'invalid-record-key', `PUT ${key}`);
        }
        assert.equal((await kvs.getRecord('other')).value, 'keep');
        const keys = await keysOf(kvs);
        assert.ok(keys.includes('other'));
        assert.ok(keys.every((k) => ['.', '..', 'other'].includes(k)), `keys: ${keys}`);
        assert.equal((await kvs.get()).id, store.id, 'the store is intact');
    });
});

describe('record size limit (--max-record-size 10M)', { skip: NEEDS_SPAWN }, () => {
    // The default limit is 64 GiB (the disk is the real one; large.test.mjs): a limit that
    // tests can pass is set here.
    const LIMIT = 10 * MiB;
    let server;
    let client;
    let putRaw;
    let getRaw;
    before(async () => {
        if (!CAN_SPAWN) return;
        server = await startServer({ args: ['--max-record-size', '10M'] });
        client = makeClient(server);
        putRaw = (storeId, key, body, headers = {}, method = 'PUT', extra = {}) =>
            request(server, { method, path: recordPath(storeId, key), body, headers, ...extra });
        getRaw = (storeId, key) => request(server, { path: recordPath(storeId, key), headers: { 'Accept-Encoding': 'identity' } });
    });
    after(async () => {
        await server?.stop();
    });

    test('a 9 MiB record is accepted and read back identical', T_BIG, async () => {
        const { kvs } = await createStore(client, 'nine');
        const value = randomBytes(9 * MiB);
        await kvs.setRecord({ key: 'nine', value, contentType: 'application/octet-stream' });
        const rec = await kvs.getRecord('nine', { buffer: true });
        assert.equal(rec.value.length, value.length);
        assert.ok(rec.value.equals(value));
    });

    test('exactly 10 MiB (identity) is accepted', T_BIG, async () => {
        const { store } = await createStore(client, 'ten');
        const value = randomBytes(LIMIT);
        const res = await putRaw(store.id, 'ten', value, { 'Content-Type': 'application/octet-stream' });
        assertCreated(res, store.id, 'ten');
        const got = await getRaw(store.id, 'ten');
        assert.ok(got.body.equals(value));
    });

    /** Asserts that the store holds no record KEY and that its write stats did not move. */
    async function assertNothingStored(store, kvs, key, stats0) {
        assert.equal(await kvs.getRecord(key), undefined, 'nothing stored');
        const stats1 = (await getStoreRaw(server, store.id)).stats;
        assert.equal(stats1.writeCount, stats0.writeCount, 'writeCount unchanged');
        assert.equal(stats1.storageBytes, stats0.storageBytes, 'storageBytes unchanged');
    }

    test('10 MiB + 1 with Content-Length → 413 request-too-large received by the client, nothing stored', T_BIG, async () => {
        const { store, kvs } = await createStore(client, 'toobig-cl');
        const stats0 = (await getStoreRaw(server, store.id)).stats;
        const res = await putRaw(store.id, 'big', randomBytes(LIMIT + 1), { 'Content-Type': 'application/octet-stream' });
        assertApiError(res, 413, 'request-too-large');
        await assertNothingStored(store, kvs, 'big', stats0);
    });

    test('10 MiB + 1 chunked (no Content-Length) → 413 request-too-large, nothing stored', T_BIG, async () => {
        const { store, kvs } = await createStore(client, 'toobig-chunked');
        const stats0 = (await getStoreRaw(server, store.id)).stats;
        const res = await putRaw(store.id, 'big', randomBytes(LIMIT + 1), { 'Content-Type': 'application/octet-stream' }, 'PUT', {
            chunked: true,
        });
        assertApiError(res, 413, 'request-too-large');
        await assertNothingStored(store, kvs, 'big', stats0);
    });

    test('an over-limit record sent by the client (Brotli-compressed random bytes) → ApifyApiError 413', T_BIG, async () => {
        const { store, kvs } = await createStore(client, 'toobig-client');
        const stats0 = (await getStoreRaw(server, store.id)).stats;
        const value = randomBytes(LIMIT + 1); // incompressible: still over the limit as stored
        await assertClientError(kvs.setRecord({ key: 'big', value, contentType: 'application/octet-stream' }), 413, 'request-too-large');
        await assertNothingStored(store, kvs, 'big', stats0);
    });

    test('an over-limit overwrite keeps the previous value', T_BIG, async () => {
        const { store, kvs } = await createStore(client, 'toobig-over');
        await kvs.setRecord({ key: 'k', value: 'previous', contentType: 'text/plain' });
        const res = await putRaw(store.id, 'k', randomBytes(LIMIT + 1), { 'Content-Type': 'application/octet-stream' });
        assertApiError(res, 413, 'request-too-large');
        const rec = await kvs.getRecord('k');
        assert.equal(rec.value, 'previous');
        assert.equal(rec.contentType, 'text/plain');
    });

    test('the server keeps serving after a 413', T_BIG, async () => {
        const { store, kvs } = await createStore(client, 'after413');
        const res = await putRaw(store.id, 'big', randomBytes(LIMIT + 100), { 'Content-Type': 'application/octet-stream' });
        assert.equal(res.status, 413);
        await kvs.setRecord({ key: 'small', value: 'ok', contentType: 'text/plain' });
        assert.equal((await kvs.getRecord('small')).value, 'ok');
    });

    describe('--max-record-size 1000', { skip: NEEDS_SPAWN }, () => {
        let small;
        let smallClient;
        before(async () => {
            if (!CAN_SPAWN) return;
            small = await startServer({ args: ['--max-record-size', '1000'] });
            smallClient = makeClient(small);
        });
        after(async () => {
            await small?.stop();
        });

        const put = (storeId, key, body, headers) =>
            request(small, { method: 'PUT', path: recordPath(storeId, key), body, headers: { 'Content-Type': 'application/octet-stream', ...headers } });

        test('1000 bytes accepted, 1001 bytes → 413 (Content-Length and chunked)', T, async () => {
            const { store, kvs } = await createStore(smallClient, 'limit');
            assert.equal((await put(store.id, 'ok', randomBytes(1000))).status, 201);
            assertApiError(await put(store.id, 'big', randomBytes(1001)), 413, 'request-too-large', 'Content-Length');
            const chunked = await request(small, {
                method: 'PUT',
                path: recordPath(store.id, 'big2'),
                body: randomBytes(1001),
                chunked: true,
                chunkSize: 300,
                headers: { 'Content-Type': 'application/octet-stream' },
            });
            assertApiError(chunked, 413, 'request-too-large', 'chunked');
            assert.deepEqual((await kvs.listKeys()).items.map((i) => i.key), ['ok']);
        });

        test('the limit applies to the bytes as stored: a gzip body of ≤1000 bytes that decodes larger is accepted', T, async () => {
            const { store, kvs } = await createStore(smallClient, 'limit-gz');
            const text = 'a'.repeat(5000);
            const gz = zlib.gzipSync(Buffer.from(text));
            assert.ok(gz.length <= 1000);
            assert.equal((await put(store.id, 'gz', gz, { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' })).status, 201);
            const got = await request(small, { path: recordPath(store.id, 'gz'), headers: { 'Accept-Encoding': 'identity' } });
            assert.equal(got.status, 200);
            assert.equal(got.text, text);
            const item = (await kvs.listKeys()).items[0];
            assert.equal(item.size, gz.length, 'stored size');
        });

        test('a record the client sends compressed is measured after compression', T, async () => {
            const { kvs } = await createStore(smallClient, 'limit-client');
            const text = 'b'.repeat(4000); // > limit as text, far below once Brotli-compressed by the client
            await kvs.setRecord({ key: 'txt', value: text, contentType: 'text/plain' });
            assert.equal((await kvs.getRecord('txt')).value, text);
        });

        test('no decompression bomb: a body decoding to > 10 × the limit is refused or never served whole', T, async () => {
            const { store, kvs } = await createStore(smallClient, 'bomb');
            const huge = Buffer.alloc(50_000); // 50× the limit once decoded
            const gz = zlib.gzipSync(huge);
            assert.ok(gz.length <= 1000);
            const up = await put(store.id, 'bomb', gz, { 'Content-Type': 'application/octet-stream', 'Content-Encoding': 'gzip' });
            if (up.status !== 201) {
                // refused at upload (checked while decoding the upload): 413, nothing stored
                assertApiError(up, 413, 'request-too-large', 'upload of a decompression bomb');
                assert.equal(await kvs.getRecord('bomb'), undefined);
                return;
            }
            let res = null;
            try {
                res = await request(small, { path: recordPath(store.id, 'bomb'), headers: { 'Accept-Encoding': 'identity' } });
            } catch {
                res = null; // the response was cut off: fine
            }
            if (res) {
                assert.ok(!(res.status === 200 && res.body.length === huge.length), 'the whole 50 kB decoded body must not be served');
            }
            // The stored bytes are still served as they are to a client that accepts gzip.
            const raw = await request(small, { path: recordPath(store.id, 'bomb'), headers: { 'Accept-Encoding': 'gzip' } });
            assert.equal(raw.status, 200);
            assert.ok(raw.body.equals(gz));
        });
    });
});

describe('records of a store addressed in ways that do not exist', () => {
    test('PUT into a missing store → 404 record-not-found', T, async () => {
        const res = await putRaw('AAAAAAAAAAAAAAAAA', 'k', 'v', { 'Content-Type': 'text/plain' });
        assertApiError(res, 404, 'record-not-found');
        const byName = await request(server, { method: 'PUT', path: `${storePath('~no-such-store-xyz')}/records/k`, body: 'v', headers: { 'Content-Type': 'text/plain' } });
        assertApiError(byName, 404, 'record-not-found');
    });
});
