// What a new user tripped over in the console (issue 21): uploads checked against the server's
// limit before a byte goes and shown with their progress; a search box on the stores list; a
// ZIP of a store's records; when each record was written; the user's own default general
// access and what "Follows the owner's setting" means; confirmations that say what happens
// (unnaming a store, revoking the token in use, deleting a user); the statistics after a write;
// the usage cards of a user whose stores are all shared with them; a preview that the prefix
// filter hides.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { consoleTest, signIn } from '../lib/browser.mjs';
import { dataOf, makeClient, request } from '../lib/server.mjs';
import { clientAs, createUser, share } from '../lib/users.mjs';

async function openStore(page, server, name, opts = {}) {
    const client = makeClient(server);
    const store = await client.keyValueStores().getOrCreate(name);
    await signIn(page, server, { path: `/console/stores/${store.id}`, ...opts });
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    return { client, store, kvs: client.keyValueStore(store.id) };
}

/** The names of the files of ZIP (a Buffer), from its central directory. */
function zipNames(zip) {
    const names = [];
    for (let i = zip.lastIndexOf(Buffer.from('PK\x05\x06', 'latin1')) - 1; i >= 0; i--) {
        if (zip.readUInt32LE(i) !== 0x02014b50) continue;
        const n = zip.readUInt16LE(i + 28);
        names.push(zip.subarray(i + 46, i + 46 + n).toString('utf8'));
    }
    return names.sort();
}

// the access log of the first test's server, which shows whether anything was sent
const logDir = mkdtempSync(path.join(os.tmpdir(), 'kvs-console-log-'));
consoleTest(
    'a file over the server\'s limit is refused before a byte is sent; a large upload shows its progress',
    async ({ server, page }) => {
        const { kvs } = await openStore(page, server, 'uploads');
        const before = (await fs.readFile(path.join(logDir, 'access.log'), 'utf8')).split('\n').filter((l) => / PUT /.test(l)).length;
        const chooser = page.waitForEvent('filechooser');
        await page.getByRole('button', { name: 'Upload file' }).first().click();
        await (await chooser).setFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(100 * 1024, 7) });
        const dialog = page.getByRole('dialog', { name: 'Upload a record' });
        await dialog.getByRole('alert').getByText('Too large to upload.').waitFor();
        assert.match(await dialog.getByRole('alert').innerText(), /This is 100 KiB: the server takes records of at most 64 KiB \(65,536 bytes; .*kvs serve --max-record-size\)/);
        assert.equal(await dialog.getByRole('button', { name: 'Upload' }).isDisabled(), true);
        await dialog.getByRole('button', { name: 'Cancel' }).click();
        const puts = (await fs.readFile(path.join(logDir, 'access.log'), 'utf8')).split('\n').filter((l) => / PUT /.test(l)).length;
        assert.equal(puts, before, 'nothing was sent');
        assert.equal(await kvs.getRecord('big.bin'), undefined);

        // under the limit: sent with a progress bar, which ends at the whole size
        const body = Buffer.alloc(48 * 1024, 9);
        const chooser2 = page.waitForEvent('filechooser');
        await page.getByRole('button', { name: 'Upload file' }).first().click();
        await (await chooser2).setFiles({ name: 'fits.bin', mimeType: 'application/octet-stream', buffer: body });
        await page.evaluate(() => {
            window.seen = [];
            new MutationObserver(() => {
                const t = document.querySelector('.upload-progress');
                if (t) window.seen.push([t.querySelector('progress').value, t.querySelector('progress').max, t.innerText]);
            }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
        });
        await page.getByRole('dialog', { name: 'Upload a record' }).getByRole('button', { name: 'Upload' }).click();
        await page.getByRole('dialog', { name: 'Upload a record' }).waitFor({ state: 'detached' });
        const seen = await page.evaluate(() => window.seen);
        assert.ok(seen.length > 0, 'a progress bar was shown');
        assert.ok(seen.some(([value, max, text]) => value === body.length && max === body.length && /Sent 48 KiB/.test(text)), JSON.stringify(seen.slice(-3)));
        assert.deepEqual(Buffer.from((await kvs.getRecord('fits.bin', { buffer: true })).value), body);
        await fs.rm(logDir, { recursive: true, force: true });
    },
    { serverOptions: { args: ['--max-record-size', '64K', '--access-log', path.join(logDir, 'access.log')] } },
);

consoleTest('the stores list has a search box: by name, ID or owner, with a way back', async ({ server, page }) => {
    const client = makeClient(server);
    for (const n of ['invoices-2026', 'invoices-2025', 'photos']) await client.keyValueStores().getOrCreate(n);
    const bob = await createUser(server, 'bob');
    const bobs = await clientAs(server, bob.token).keyValueStores().getOrCreate('shared-notes');
    await share(server, bob.token, bobs.id, 'admin', 'READ');
    await signIn(page, server);
    const table = page.getByRole('table', { name: 'Your key-value stores' });
    await table.waitFor();
    const names = async () => (await table.locator('tbody tr td:first-child a').allInnerTexts()).sort();
    assert.deepEqual(await names(), ['invoices-2025', 'invoices-2026', 'photos', 'shared-notes']);
    const search = page.getByRole('searchbox', { name: 'Search stores' });
    await search.fill('INVOICES');
    assert.deepEqual(await names(), ['invoices-2025', 'invoices-2026']);
    await search.fill('invoices 26');
    assert.deepEqual(await names(), ['invoices-2026'], 'every word must match');
    await search.fill(bob.username);
    assert.deepEqual(await names(), ['shared-notes'], 'by owner');
    await search.fill(bobs.id.slice(3, 12));
    assert.deepEqual(await names(), ['shared-notes'], 'by ID');
    await search.fill('nothing-like-this');
    await page.getByRole('heading', { name: 'No store matches' }).waitFor();
    await page.getByRole('button', { name: 'Clear the search' }).click();
    assert.deepEqual(await names(), ['invoices-2025', 'invoices-2026', 'photos', 'shared-notes']);
    assert.equal(await search.inputValue(), '');
});

consoleTest('"Download all (ZIP)" saves every record, or those the filter shows, for the owner and for a reader', async ({ server, page, newPage }) => {
    const { store, kvs } = await openStore(page, server, 'zipped');
    for (const k of ['a-1', 'a-2', 'b-1']) await kvs.setRecord({ key: k, value: { k } });
    await page.reload();
    await page.getByRole('button', { name: 'b-1' }).waitFor();
    const save = async (p, label) => {
        const download = p.waitForEvent('download');
        await p.getByRole('button', { name: label }).click();
        const d = await download;
        return { name: d.suggestedFilename(), names: zipNames(await fs.readFile(await d.path())) };
    };
    assert.deepEqual(await save(page, 'Download all (ZIP)'), { name: 'zipped.zip', names: ['a-1', 'a-2', 'b-1'] });
    await page.getByRole('searchbox', { name: 'Filter by key prefix' }).fill('a-');
    await page.getByRole('button', { name: 'b-1' }).waitFor({ state: 'detached' });
    assert.deepEqual(await save(page, 'Download matching (ZIP)'), { name: 'zipped.zip', names: ['a-1', 'a-2'] });

    // a reader has no signed link: the archive comes through the API with their token
    const reader = await createUser(server, 'reader');
    await share(server, server.token, store.id, reader.username, 'READ');
    const other = await newPage();
    await signIn(other, server, { token: reader.token, path: `/console/stores/${store.id}` });
    await other.getByRole('button', { name: 'a-2' }).waitFor();
    assert.deepEqual(await save(other, 'Download all (ZIP)'), { name: 'zipped.zip', names: ['a-1', 'a-2', 'b-1'] });
});

consoleTest('the key list says when each record was written; the statistics follow the console\'s writes', async ({ server, page }) => {
    const { store, kvs } = await openStore(page, server, 'timed');
    await kvs.setRecord({ key: 'old', value: 'x', contentType: 'text/plain' });
    await page.reload();
    const row = page.getByRole('row', { name: /old/ });
    await row.waitFor();
    const keys = dataOf(await request(server, { path: `/v2/key-value-stores/${store.id}/keys` }));
    assert.equal(await row.locator('time').getAttribute('datetime'), keys.items[0].modifiedAt);
    assert.equal(await row.locator('time').innerText(), 'just now');
    assert.ok(await page.getByRole('columnheader', { name: 'Modified' }).isVisible());

    const stat = (label) => page.locator('dl.stats .stat', { hasText: label }).locator('dd');
    assert.equal(await stat('Writes').innerText(), '1');
    // an edit of the record from the console: the strip counts it without a reload
    await page.getByRole('button', { name: 'old' }).click();
    await page.getByRole('button', { name: 'Edit' }).click();
    const ed = page.getByRole('dialog', { name: 'Edit old' });
    await ed.getByLabel('Value').fill('y');
    await ed.getByRole('button', { name: 'Save record' }).click();
    await ed.waitFor({ state: 'detached' });
    await page.waitForFunction(() => [...document.querySelectorAll('dl.stats .stat')].some((s) => /writes/i.test(s.innerText) && /\b2\b/.test(s.querySelector('dd').innerText)));
    // a new record and a delete, too
    await page.getByRole('button', { name: 'New record' }).click();
    const nr = page.getByRole('dialog', { name: 'New record' });
    await nr.getByLabel('Key').fill('fresh');
    await nr.getByLabel('Value').fill('{}');
    await nr.getByRole('button', { name: 'Save record' }).click();
    await page.waitForFunction(() => [...document.querySelectorAll('dl.stats .stat')].some((s) => /records/i.test(s.innerText) && /\b2\b/.test(s.querySelector('dd').innerText)));
});

consoleTest('the preview goes when the prefix filter hides its record', async ({ server, page }) => {
    const { kvs } = await openStore(page, server, 'filtered');
    await kvs.setRecord({ key: 'apple', value: 'a', contentType: 'text/plain' });
    await kvs.setRecord({ key: 'banana', value: 'b', contentType: 'text/plain' });
    await page.reload();
    await page.getByRole('button', { name: 'apple' }).click();
    await page.getByRole('heading', { name: 'apple', level: 2 }).waitFor();
    const filter = page.getByRole('searchbox', { name: 'Filter by key prefix' });
    await filter.fill('ap'); // still shown: the filter shows it
    await page.getByRole('button', { name: 'banana' }).waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('heading', { name: 'apple', level: 2 }).count(), 1);
    await filter.fill('ba');
    await page.getByRole('heading', { name: 'No record selected' }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'apple', level: 2 }).count(), 0);
    assert.equal(new URL(page.url()).searchParams.get('key'), null, 'nor in the address');
});

consoleTest('a user sets their own default general access; "Follows the owner\'s setting" says what it is', async ({ server, page }) => {
    const carol = await createUser(server, 'carol');
    const store = await clientAs(server, carol.token).keyValueStores().getOrCreate('carols');
    await signIn(page, server, { token: carol.token, path: `/console/stores/${store.id}` });
    const badge = page.getByRole('link', { name: 'Follows your setting: Restricted' });
    await badge.waitFor();
    assert.match(await badge.getAttribute('title'), /default general access, an account setting: now “Restricted”/);
    await badge.click();
    await page.getByRole('heading', { name: 'Your account', level: 1 }).waitFor();
    await page.getByLabel(/Anyone with the ID can read/).check();
    await page.getByRole('button', { name: 'Save default' }).click();
    await page.getByText('Your default general access is now “Anyone with the ID can read”.').waitFor();
    assert.equal(dataOf(await request(server, { path: '/v2/users/me', token: carol.token })).defaultGeneralAccess, 'ANYONE_WITH_ID_CAN_READ');
    const anon = await request(server, { path: `/v2/key-value-stores/${store.id}`, token: false });
    assert.equal(anon.status, 200, 'the store follows it: readable by ID now');
    await page.goBack();
    await page.getByRole('link', { name: 'Follows your setting: Anyone with the ID can read' }).waitFor();
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByText('Follows your default general access, an account setting: now “Anyone with the ID can read”.').waitFor();
    // the header's name leads there too
    await page.getByRole('link', { name: 'carol' }).first().click();
    await page.getByRole('heading', { name: 'Your account', level: 1 }).waitFor();
});

consoleTest('removing a store\'s name asks first and says when the store goes (the server\'s retention)', async ({ server, page }) => {
    const { store, kvs } = await openStore(page, server, 'keep-me');
    await kvs.setRecord({ key: 'k', value: 1 });
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByText('An unnamed store is deleted, with its records, once it has not been read or written for 3 days.').waitFor();
    const name = page.getByLabel('Store name');
    await name.fill('');
    await page.getByRole('button', { name: 'Rename' }).click();
    const ask = page.getByRole('dialog', { name: 'Remove the name “keep-me”?' });
    await ask.getByText('it is deleted, with its records, once it has not been read or written for 3 days; its 1 record(s) would go with it.').waitFor();
    await ask.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await kvs.get()).name, 'keep-me', 'cancelled: still named');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByRole('dialog', { name: 'Remove the name “keep-me”?' }).getByRole('button', { name: 'Remove the name' }).click();
    await page.getByText('The store is now unnamed: it is deleted, with its records, once it has not been read or written for 3 days.').waitFor();
    assert.equal((await makeClient(server).keyValueStore(store.id).get()).name, null);
}, { serverOptions: { args: ['--unnamed-retention', '3d'] } });

consoleTest('revoking the token the console is signed in with says so, then signs out', async ({ server, page }) => {
    const root = await createUser(server, 'root', { isAdmin: true });
    await signIn(page, server, { token: root.token, path: `/console/admin/tokens?user=${root.username}` });
    const row = page.getByRole('table', { name: `API tokens of ${root.username}` }).locator('tbody tr');
    await row.first().waitFor();
    assert.match(await row.first().innerText(), /this session/);
    await page.getByRole('button', { name: `Revoke token ${root.token.slice(0, 12)}` }).click();
    const ask = page.getByRole('dialog', { name: 'Revoke your own token?' });
    await ask.getByText('is the one you are signed in with: revoking it signs you out').waitFor();
    await ask.getByRole('button', { name: 'Revoke and sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    await page.getByText('You revoked the token you were signed in with').waitFor();
    assert.equal((await request(server, { path: '/v2/users/me', token: root.token })).status, 401);
    // another user's token: the plain confirmation
    await signIn(page, server, { path: `/console/admin/tokens?user=${root.username}` });
    await page.getByRole('heading', { name: 'No tokens' }).waitFor();
});

consoleTest('an admin deletes a user: the confirmation counts their stores; deleting yourself signs you out', async ({ server, page }) => {
    const dave = await createUser(server, 'dave');
    const asDave = clientAs(server, dave.token);
    const s = await asDave.keyValueStores().getOrCreate('daves');
    await asDave.keyValueStore(s.id).setRecord({ key: 'a', value: 1 });
    await asDave.keyValueStore(s.id).setRecord({ key: 'b', value: 2 });
    await signIn(page, server, { path: '/console/admin/users' });
    await page.getByRole('button', { name: `Delete user ${dave.username}` }).click();
    const ask = page.getByRole('dialog', { name: `Delete user ${dave.username}?` });
    await ask.getByText('their 1 store(s) with 2 record(s)').waitFor();
    await ask.getByRole('button', { name: 'Delete user' }).click();
    await ask.getByRole('alert').getByText(`Type “${dave.username}” exactly`).waitFor();
    await ask.getByLabel('Type the username to confirm').fill(dave.username);
    await ask.getByRole('button', { name: 'Delete user' }).click();
    await page.getByRole('cell', { name: dave.username, exact: true }).waitFor({ state: 'detached' });
    assert.equal((await request(server, { path: `/v2/key-value-stores/${s.id}` })).status, 404, 'their store went with them');

    // the only admin cannot go: the server's words are shown
    await page.getByRole('button', { name: 'Delete user admin' }).click();
    const self = page.getByRole('dialog', { name: 'Delete user admin?' });
    await self.getByText('This is you.').waitFor();
    await self.getByLabel('Type the username to confirm').fill('admin');
    await self.getByRole('button', { name: 'Delete user' }).click();
    await page.getByText('is the only admin and cannot be deleted').waitFor();
    // with another admin, it can, and it signs out
    await createUser(server, 'root', { isAdmin: true });
    await page.reload();
    await page.getByRole('button', { name: 'Delete user admin' }).click();
    await self.getByLabel('Type the username to confirm').fill('admin');
    await self.getByRole('button', { name: 'Delete user' }).click();
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    await page.getByText('You deleted your user admin').waitFor();
});

consoleTest('the usage cards count the stores shared with a user who owns none', async ({ server, page }) => {
    const erin = await createUser(server, 'erin');
    const client = makeClient(server);
    for (const n of ['team-a', 'team-b']) {
        const st = await client.keyValueStores().getOrCreate(n);
        await client.keyValueStore(st.id).setRecord({ key: 'k', value: 1 });
        await share(server, server.token, st.id, erin.username, 'READ');
    }
    await signIn(page, server, { token: erin.token });
    const table = page.getByRole('table', { name: 'Your key-value stores' });
    await table.waitFor();
    assert.equal(await table.locator('tbody tr').count(), 2);
    const usage = page.getByRole('region', { name: 'Usage' });
    await usage.getByText('shared with you: 2').waitFor();
    assert.match(await usage.innerText(), /STORES\s*2/i);
    assert.match(await usage.innerText(), /in your own stores/);
});

consoleTest('the sign-in page says how to get a new admin token', async ({ server, page }) => {
    await page.goto(`${server.url}/console/`);
    await page.getByText('Lost the admin’s token? On the server,').waitFor();
    assert.equal(await page.getByText('kvs token create admin --data DIR').count(), 1);
});
