// A store's Settings and API tabs: rename, general access, share and take back, signed links,
// delete with a confirmation that names the store.
import assert from 'node:assert/strict';

import { consoleTest, signIn } from '../lib/browser.mjs';
import { makeClient, request, storePath } from '../lib/server.mjs';
import { clientAs, createUser } from '../lib/users.mjs';

consoleTest('rename, change general access, share and take back', async ({ server, page }) => {
    const client = makeClient(server);
    const store = await client.keyValueStores().getOrCreate('settings-store');
    await client.keyValueStore(store.id).setRecord({ key: 'r', value: 'hello', contentType: 'text/plain' });
    const bob = await createUser(server, 'bob');
    await signIn(page, server, { path: `/console/stores/${store.id}/settings` });
    await page.getByRole('heading', { name: 'settings-store', level: 1 }).waitFor();
    await page.getByText('removing the name makes it expire').waitFor();

    // rename
    await page.getByLabel('Store name').fill('renamed-store');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByText('Renamed to “renamed-store”.').waitFor();
    await page.getByRole('heading', { name: 'renamed-store', level: 1 }).waitFor();
    assert.equal((await client.keyValueStore(store.id).get()).name, 'renamed-store');
    await page.getByLabel('Store name').fill('not valid!');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByRole('alert').getByText('That name is not valid').waitFor();

    // general access: the four values, and the change holds for anonymous readers
    const radios = page.getByRole('group', { name: 'General access' }).getByRole('radio');
    assert.equal(await radios.count(), 4);
    const anon = () => request(server.url, { path: `${storePath(store.id)}/records/r` });
    assert.equal((await anon()).status, 401);
    await page.getByLabel('Anyone with the ID can read').check();
    await page.getByRole('button', { name: 'Save access' }).click();
    await page.getByText('General access is now “Anyone with the ID can read”.').waitFor();
    assert.equal((await client.keyValueStore(store.id).get()).generalAccess, 'ANYONE_WITH_ID_CAN_READ');
    assert.equal((await anon()).text, 'hello');
    await page.locator('.store-meta').getByText('Anyone with the ID can read').waitFor();

    // share with bob for writing; bob sees it in his list and may write; then take it back
    await page.getByRole('heading', { name: 'Not shared with anyone' }).waitFor();
    await page.getByRole('textbox', { name: 'Username' }).fill(bob.username);
    await page.getByRole('combobox', { name: 'Access', exact: true }).selectOption('WRITE');
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    await page.getByText(`Shared with ${bob.username} (read and write).`).waitFor();
    await page.getByRole('cell', { name: bob.username, exact: true }).waitFor();
    const asBob = clientAs(server, bob.token);
    const listed = await asBob.keyValueStores().list();
    assert.deepEqual(listed.items.map((s) => [s.id, s.access]), [[store.id, 'WRITE']]);
    await asBob.keyValueStore(store.id).setRecord({ key: 'from-bob', value: 'hi', contentType: 'text/plain' });
    await page.getByRole('textbox', { name: 'Username' }).fill('nobody-like-this');
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    await page.getByRole('alert').getByText('User was not found').waitFor();
    await page.getByRole('button', { name: `Stop sharing with ${bob.username}` }).click();
    await page.getByRole('heading', { name: 'Not shared with anyone' }).waitFor();
    assert.equal((await asBob.keyValueStores().list()).items.length, 0);
});

consoleTest('the API tab: snippets with the real IDs, and signed links that work', async ({ server, page }) => {
    const client = makeClient(server);
    const store = await client.keyValueStores().getOrCreate('api-store');
    await client.keyValueStore(store.id).setRecord({ key: 'report.json', value: { ok: 1 } });
    await signIn(page, server, { path: `/console/stores/${store.id}/api` });
    await page.getByRole('heading', { name: 'Endpoints' }).waitFor();
    assert.match(await page.locator('.code-block').first().innerText(), new RegExp(`${server.url}/v2/key-value-stores/${store.id}/keys`));
    assert.ok(!(await page.content()).includes(server.token), 'the token is never put in the page');

    await page.getByLabel('Link valid for').selectOption('3600');
    await page.getByRole('button', { name: 'Create key list link' }).click();
    const keysUrl = await page.locator('.signed-url code').first().innerText();
    const keys = await request(server.url, { path: new URL(keysUrl).pathname + new URL(keysUrl).search });
    assert.equal(keys.status, 200, 'the signed key list opens without a token');
    assert.deepEqual(keys.json().data.items.map((i) => i.key), ['report.json']);

    await page.getByLabel('Record key').fill('report.json');
    await page.getByRole('button', { name: 'Create record link' }).click();
    const recUrl = await page.locator('.signed-url code').nth(1).innerText();
    const rec = await request(server.url, { path: new URL(recUrl).pathname + new URL(recUrl).search });
    assert.equal(rec.status, 200, 'the signed record opens without a token');
    assert.deepEqual(rec.json(), { ok: 1 });
});

consoleTest('delete a store after typing its name', async ({ server, page }) => {
    const client = makeClient(server);
    const store = await client.keyValueStores().getOrCreate('doomed-store');
    await signIn(page, server, { path: `/console/stores/${store.id}/settings` });
    await page.getByRole('button', { name: 'Delete “doomed-store”' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete “doomed-store”?' });
    await dialog.getByText('cannot be undone').waitFor();
    await dialog.getByLabel('Type the store’s name to confirm').fill('doomed');
    await dialog.getByRole('button', { name: 'Delete store' }).click();
    await dialog.getByRole('alert').getByText('Type “doomed-store” exactly').waitFor();
    assert.ok(await client.keyValueStore(store.id).get(), 'not deleted yet');
    await dialog.getByLabel('Type the store’s name to confirm').fill('doomed-store');
    await dialog.getByRole('button', { name: 'Delete store' }).click();
    await page.getByRole('heading', { name: 'Key-value stores', level: 1 }).waitFor();
    assert.equal(await client.keyValueStore(store.id).get(), undefined, 'the store is gone');
    await page.getByRole('heading', { name: 'No named key-value stores yet' }).waitFor();
});

consoleTest('a reader sees a read-only store: no upload, no settings', async ({ server, page }) => {
    const client = makeClient(server);
    const store = await client.keyValueStores().getOrCreate('shared-read');
    await client.keyValueStore(store.id).setRecord({ key: 'k', value: 'v', contentType: 'text/plain' });
    const carol = await createUser(server, 'carol');
    await request(server, { method: 'PUT', path: `${storePath(store.id)}/shares/${carol.username}`, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ access: 'READ' }) });
    await signIn(page, server, { token: carol.token });
    await page.getByText('Shared · READ').waitFor();
    await page.getByRole('link', { name: 'shared-read' }).click();
    await page.getByText('Read only').waitFor();
    await page.getByText('Owner: admin').waitFor();
    await page.getByRole('button', { name: 'k', exact: true }).click();
    await page.locator('.preview-body pre', { hasText: 'v' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Upload file' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Delete', exact: true }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Settings' }).count(), 0);
});

consoleTest('rotate the signing key: every link made before stops working', async ({ server, page }) => {
    const client = makeClient(server);
    const store = await client.keyValueStores().getOrCreate('signed-store');
    const kvs = client.keyValueStore(store.id);
    await kvs.update({ generalAccess: 'RESTRICTED' });
    await kvs.setRecord({ key: 'r', value: 'hello', contentType: 'text/plain' });
    const before = (await kvs.get()).urlSigningSecretKey;
    const link = await kvs.getRecordPublicUrl('r');
    const target = (url) => { const u = new URL(url); return u.pathname + u.search; };
    assert.equal((await request(server.url, { path: target(link) })).text, 'hello');
    await signIn(page, server, { path: `/console/stores/${store.id}/settings` });
    await page.getByRole('heading', { name: 'Signed links' }).waitFor();
    // cancelling changes nothing
    await page.getByRole('button', { name: 'Rotate signing key' }).click();
    await page.getByRole('dialog', { name: 'Rotate the signing key?' }).getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await kvs.get()).urlSigningSecretKey, before);
    await page.getByRole('button', { name: 'Rotate signing key' }).click();
    await page.getByRole('dialog', { name: 'Rotate the signing key?' }).getByRole('button', { name: 'Rotate signing key' }).click();
    await page.getByText('The store has a new signing key: links made before no longer work.').waitFor();
    const after = (await kvs.get()).urlSigningSecretKey;
    assert.notEqual(after, before);
    assert.equal((await request(server.url, { path: target(link) })).status, 403, 'the old link opens nothing');
    assert.equal((await request(server.url, { path: target(await kvs.getRecordPublicUrl('r')) })).text, 'hello');
});
