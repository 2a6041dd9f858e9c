// The console's origin is the API's: a record opened as a page there must never run script
// with the origin's rights, where the console keeps its token (issue 19, finding 1). Chromium,
// signed in to the console, opens records of every risky kind as top-level pages on the same
// origin (through signed links, a public store, a decoded variant, a type a browser might
// sniff; bytes a browser downloads are no page) and nothing of theirs runs: each is a sandboxed document of an opaque origin, with no
// access to the console's storage.
import assert from 'node:assert/strict';
import zlib from 'node:zlib';

import { consoleTest, signIn } from '../lib/browser.mjs';
import { makeClient, recordPath, request, setGeneralAccess } from '../lib/server.mjs';

const HTML =
    '<!doctype html><html><body><h1>owned</h1>' +
    '<script>window.__pwned = sessionStorage.length + ":" + document.cookie; fetch("/pwned-script")</script>' +
    '<img src="/nonexistent.png" onerror="window.__pwned = 1; fetch(\'/pwned-onerror\')"></body></html>';
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned = 1"><script>window.__pwned = 2; fetch("/pwned-svg")</script></svg>';

consoleTest('records opened as pages on the console origin run nothing and cannot read its storage', async ({ server, page }) => {
    const client = makeClient(server);
    const priv = await client.keyValueStores().getOrCreate('private-one');
    const pub = await client.keyValueStores().getOrCreate('public-one');
    const put = (store, key, body, headers) => request(server, { method: 'PUT', path: recordPath(store.id, key), body, headers });
    const cases = [
        ['page.html', HTML, { 'Content-Type': 'text/html; charset=utf-8' }],
        ['pic.svg', SVG, { 'Content-Type': 'image/svg+xml' }],
        ['plain', HTML, { 'Content-Type': 'text/plain' }],
        ['fake.png', HTML, { 'Content-Type': 'image/png' }],
        ['json', HTML, { 'Content-Type': 'application/json' }],
        ['coded', zlib.gzipSync(HTML), { 'Content-Type': 'text/html', 'Content-Encoding': 'gzip' }],
    ];
    for (const store of [priv, pub]) for (const [key, body, headers] of cases) assert.equal((await put(store, key, body, headers)).status, 201, key);
    await setGeneralAccess(server, pub.id, 'ANYONE_WITH_ID_CAN_READ');

    await signIn(page, server);
    assert.ok(await page.evaluate(() => sessionStorage.length > 0), 'the console keeps its token in sessionStorage');

    const hits = [];
    page.on('request', (r) => {
        if (/pwned/.test(r.url())) hits.push(r.url()); // (its <img> may load: markup, not script)
    });
    const urls = [];
    for (const [key] of cases) {
        const signed = new URL(await client.keyValueStore(priv.id).getRecordPublicUrl(key));
        urls.push([`signed ${key}`, signed.href]);
        urls.push([`public ${key}`, `${server.url}${recordPath(pub.id, key)}`]);
    }
    for (const [what, url] of urls) {
        const res = await page.goto(url);
        assert.equal(res.status(), 200, what);
        assert.equal(res.headers()['content-security-policy'], 'sandbox', `${what}: sandboxed`);
        await page.waitForTimeout(100); // an onerror or fetch would have fired by now
        const seen = await page.evaluate(() => {
            let storage;
            try {
                storage = sessionStorage.length;
            } catch (e) {
                storage = e.name;
            }
            return { pwned: window.__pwned, origin: self.origin, storage };
        });
        assert.equal(seen.pwned, undefined, `${what}: none of its script ran`);
        assert.equal(seen.origin, 'null', `${what}: an opaque origin, not the console's`);
        assert.equal(seen.storage, 'SecurityError', `${what}: the console's storage is out of reach`);
    }
    assert.deepEqual(hits, [], 'no script or handler of a record made a request');

    // and the console is still signed in on its own origin
    await page.goto(`${server.url}/console/`);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
});
