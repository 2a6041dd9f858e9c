// A store's records in the console: upload (picker and drag and drop), previews by content
// type, an HTML record that must not run, the editor, delete, and paging through 2,500 keys
// with a prefix one page at a time.
import assert from 'node:assert/strict';

import { consoleTest, dropFile, makePng, signIn } from '../lib/browser.mjs';
import { makeClient, mapLimit } from '../lib/server.mjs';

async function openStore(page, server, name) {
    const client = makeClient(server);
    const store = await client.keyValueStores().getOrCreate(name);
    await signIn(page, server, { path: `/console/stores/${store.id}` });
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    return { client, store, kvs: client.keyValueStore(store.id) };
}

consoleTest('upload a PNG with the file picker and see it shown', async ({ server, page }) => {
    const { kvs } = await openStore(page, server, 'pictures');
    const png = makePng(64, 48);
    const chooser = page.waitForEvent('filechooser');
    await page.getByRole('button', { name: 'Upload file' }).first().click();
    await (await chooser).setFiles({ name: 'chart 2026.png', mimeType: 'image/png', buffer: png });
    const dialog = page.getByRole('dialog', { name: 'Upload a record' });
    assert.equal(await dialog.getByLabel('Key').inputValue(), 'chart-2026.png', 'the key defaults to the file name, made valid');
    assert.equal(await dialog.getByLabel('Content type').inputValue(), 'image/png', 'the type comes from the file');
    await dialog.getByLabel('Key').fill('chart.png');
    await dialog.getByRole('button', { name: 'Upload' }).click();
    await dialog.waitFor({ state: 'detached' });

    const img = page.getByRole('img', { name: 'Record chart.png' });
    await img.waitFor();
    await page.waitForFunction(() => document.querySelector('.preview-image')?.complete);
    const shown = await img.evaluate((el) => ({ w: el.naturalWidth, h: el.naturalHeight, src: el.src }));
    assert.deepEqual([shown.w, shown.h], [64, 48], 'the browser decoded the picture');
    assert.match(shown.src, /^blob:/, 'shown from the bytes fetched through the API, not by URL');
    const rec = await kvs.getRecord('chart.png', { buffer: true });
    assert.deepEqual(Buffer.from(rec.value), png, 'stored byte for byte');
    assert.match(rec.contentType, /^image\/png/);
    await page.getByRole('button', { name: 'chart.png' }).waitFor();
    assert.match(await page.getByRole('row', { name: /chart\.png/ }).innerText(), /image\/png/);
});

consoleTest('drop a JSON file and see it pretty-printed; create, edit and delete a record', async ({ server, page }) => {
    const { kvs } = await openStore(page, server, 'documents');
    const json = Buffer.from(JSON.stringify({ name: 'kvstore', tags: ['fast', 'durable'], nested: { ok: true, n: 42 } }));
    await dropFile(page, '.keys-card', { name: 'data.json', mimeType: 'application/json', buffer: json });
    const dialog = page.getByRole('dialog', { name: 'Upload a record' });
    await dialog.getByRole('button', { name: 'Upload' }).click();
    const pre = page.locator('.preview-body pre');
    await pre.waitFor();
    assert.equal(await pre.innerText(), JSON.stringify(JSON.parse(json), null, 2), 'formatted with two-space indentation');
    assert.ok((await pre.locator('.j-key').count()) >= 5, 'keys are marked up for colour');

    // a new text record through the editor
    await page.getByRole('button', { name: 'New record' }).click();
    const ed = page.getByRole('dialog', { name: 'New record' });
    await ed.getByLabel('Key').fill('notes');
    await ed.getByLabel('Content type').selectOption('text/plain; charset=utf-8');
    await ed.getByLabel('Value').fill('first line\nsecond line');
    await ed.getByRole('button', { name: 'Save record' }).click();
    await page.locator('.preview-body pre', { hasText: 'second line' }).waitFor();
    assert.equal((await kvs.getRecord('notes')).value, 'first line\nsecond line');

    // JSON that does not parse is refused in the editor
    await page.getByRole('button', { name: 'New record' }).click();
    await ed.getByLabel('Key').fill('broken');
    await ed.getByLabel('Value').fill('{"a": ');
    await ed.getByRole('button', { name: 'Save record' }).click();
    await ed.getByRole('alert').getByText('not valid JSON').waitFor();
    await ed.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await kvs.getRecord('broken'), undefined);

    // edit the text record
    await page.getByRole('button', { name: 'notes' }).click();
    await page.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit notes' });
    await edit.getByLabel('Value').fill('changed');
    await edit.getByRole('button', { name: 'Save record' }).click();
    await page.locator('.preview-body pre', { hasText: 'changed' }).waitFor();
    assert.equal((await kvs.getRecord('notes')).value, 'changed');

    // delete it, after a confirmation
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete record' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    assert.ok(await kvs.getRecord('notes'), 'cancel keeps it');
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await confirm.getByRole('button', { name: 'Delete record' }).click();
    await page.getByRole('button', { name: 'notes' }).waitFor({ state: 'detached' });
    assert.equal(await kvs.getRecord('notes'), undefined);
    await page.getByRole('heading', { name: 'No record selected' }).waitFor();

    // download goes through the API with the token and saves the bytes under the key
    await page.getByRole('button', { name: 'data.json' }).click();
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download', exact: true }).click();
    const file = await download;
    assert.equal(file.suggestedFilename(), 'data.json');
});

consoleTest('an HTML or SVG record is shown as source and none of its script runs, in any frame', async ({ server, page }) => {
    const client = makeClient(server);
    const store = await client.keyValueStores().getOrCreate('hostile');
    const kvs = client.keyValueStore(store.id);
    const html =
        '<!doctype html><html><body><h1 id="pwn">owned</h1>' +
        '<script>window.__pwned = "script"; fetch("/pwned-script"); alert(1)</script>' +
        '<img src="/nonexistent.png" onerror="window.__pwned = \'onerror\'; fetch(\'/pwned-onerror\')">' +
        '<iframe srcdoc="<script>parent.__pwned = 1</script>"></iframe>' +
        '<svg onload="window.__pwned = \'svg\'"></svg></body></html>';
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned = 1"><script>window.__pwned = 2; fetch("/pwned-svg")</script><circle r="5"/></svg>';
    await kvs.setRecord({ key: 'page.html', value: html, contentType: 'text/html; charset=utf-8' });
    await kvs.setRecord({ key: 'pic.svg', value: svg, contentType: 'image/svg+xml' });
    await kvs.setRecord({ key: 'sniff', value: html, contentType: 'application/octet-stream' });

    const hits = [];
    page.on('request', (r) => {
        if (/pwned|nonexistent/.test(r.url())) hits.push(r.url());
    });
    const dialogs = [];
    page.on('dialog', (d) => {
        dialogs.push(d.message());
        d.dismiss();
    });
    await signIn(page, server, { path: `/console/stores/${store.id}` });

    const checkNothingRan = async (what) => {
        await page.waitForTimeout(300); // an onerror or fetch would have fired by now
        for (const frame of page.frames()) {
            const seen = await frame.evaluate(() => ({
                pwned: window.__pwned,
                scripts: [...document.scripts].map((s) => s.src),
                handlers: document.querySelectorAll('[onerror], [onload], iframe, svg, img:not(.preview-image)').length,
                injected: document.getElementById('pwn') !== null,
            }));
            assert.equal(seen.pwned, undefined, `${what}: no script of the record ran in ${frame.url()}`);
            assert.ok(seen.scripts.every((s) => new URL(s).pathname.startsWith('/console/assets/')), `${what}: only the console's scripts`);
            assert.equal(seen.handlers, 0, `${what}: no element of the record in the page`);
            assert.equal(seen.injected, false, `${what}: the record's markup is not in the page`);
        }
        assert.equal(page.frames().length, 1, `${what}: no frame was made for the record`);
        assert.deepEqual(hits, [], `${what}: the record made no requests`);
        assert.deepEqual(dialogs, [], `${what}: no alert`);
    };

    await page.getByRole('button', { name: 'page.html' }).click();
    const pre = page.locator('.preview-body pre');
    await pre.waitFor();
    assert.equal(await pre.innerText(), html, 'the HTML is shown as its source text');
    await page.getByText('never renders HTML, SVG or XML').waitFor();
    await checkNothingRan('text/html');

    await page.getByRole('button', { name: 'pic.svg' }).click();
    await pre.filter({ hasText: '<circle' }).waitFor();
    assert.equal(await pre.innerText(), svg);
    await checkNothingRan('image/svg+xml');

    await page.getByRole('button', { name: 'sniff' }).click();
    await page.getByRole('heading', { name: 'Binary data' }).waitFor();
    await checkNothingRan('application/octet-stream');
});

consoleTest('page through 2,500 keys with a prefix, one page of keys per request', async ({ server, page }) => {
    const client = makeClient(server);
    const store = await client.keyValueStores().getOrCreate('many-keys');
    const kvs = client.keyValueStore(store.id);
    const keys = [...Array.from({ length: 2500 }, (_, i) => `item-${String(i).padStart(4, '0')}`), ...Array.from({ length: 150 }, (_, i) => `other-${i}`)];
    await mapLimit(keys, 48, (key) => kvs.setRecord({ key, value: `v${key}`, contentType: 'text/plain' }));

    const keyRequests = [];
    page.on('request', (r) => {
        const u = new URL(r.url());
        if (u.pathname.endsWith('/keys')) keyRequests.push(u.searchParams);
    });
    await signIn(page, server, { path: `/console/stores/${store.id}` });
    const range = page.getByTestId('keys-range');
    await range.getByText('Page 1 · keys 1–100').waitFor();
    assert.equal(keyRequests.length, 1, 'opening the store asks for one page');
    assert.equal(keyRequests[0].get('limit'), '100');
    const firstKeys = await page.locator('.key-button').allInnerTexts();
    assert.deepEqual(firstKeys, keys.slice(0, 100));

    await page.getByLabel('Filter by key prefix').fill('item-');
    await page.keyboard.press('Enter');
    await page.getByLabel('Keys per page').selectOption('1000');
    await range.getByText('Page 1 · keys 1–1,000').waitFor();
    const pages = [];
    pages.push(await page.locator('.key-button').allInnerTexts());
    await page.getByRole('button', { name: 'Next page of keys' }).click();
    await range.getByText('Page 2 · keys 1,001–2,000').waitFor();
    pages.push(await page.locator('.key-button').allInnerTexts());
    await page.getByRole('button', { name: 'Next page of keys' }).click();
    await range.getByText('Page 3 · keys 2,001–2,500 (last page)').waitFor();
    pages.push(await page.locator('.key-button').allInnerTexts());
    assert.equal(await page.getByRole('button', { name: 'Next page of keys' }).isDisabled(), true);
    assert.deepEqual(pages.flat(), keys.slice(0, 2500), 'every item- key once, in order, none of the others');
    await page.getByRole('button', { name: 'Previous page of keys' }).click();
    await range.getByText('Page 2 · keys 1,001–2,000').waitFor();
    assert.equal(await page.locator('.key-button').first().innerText(), 'item-1000');

    for (const q of keyRequests) assert.ok(Number(q.get('limit')) <= 1000, 'never more than a page');
    const filtered = keyRequests.filter((q) => q.get('prefix') === 'item-');
    assert.ok(keyRequests.length <= 6 && filtered.length >= 4, `one request per page shown (${keyRequests.length})`);
    assert.deepEqual(filtered.slice(-3).map((q) => q.get('exclusiveStartKey')), ['item-0999', 'item-1999', 'item-0999']);
    assert.equal(new URL(page.url()).searchParams.get('prefix'), 'item-');

    await page.getByLabel('Filter by key prefix').fill('nothing-');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'No keys match' }).waitFor();
});
