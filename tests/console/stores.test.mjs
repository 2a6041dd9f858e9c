// The key-value stores page: usage totals, named and unnamed stores, sorting, creating a
// store; and a phone-sized screen.
import assert from 'node:assert/strict';

import { PHONE, consoleTest, signIn } from '../lib/browser.mjs';
import { makeClient } from '../lib/server.mjs';

consoleTest('the store list, with and without unnamed stores, sorted by a column', async ({ server, page }) => {
    const client = makeClient(server);
    const alpha = await client.keyValueStores().getOrCreate('alpha-store');
    const beta = await client.keyValueStores().getOrCreate('beta-store');
    const unnamed = await client.keyValueStores().getOrCreate();
    await client.keyValueStore(beta.id).setRecord({ key: 'a', value: 'x'.repeat(300), contentType: 'text/plain' });
    await client.keyValueStore(beta.id).setRecord({ key: 'b', value: 'y', contentType: 'text/plain' });
    await client.keyValueStore(unnamed.id).setRecord({ key: 'u', value: 'z', contentType: 'text/plain' });

    await signIn(page, server);
    const table = page.getByRole('table', { name: 'Your key-value stores' });
    await table.waitFor();
    const names = async () => (await table.locator('tbody tr td:first-child').allInnerTexts()).map((t) => t.split('\n')[0]);
    assert.deepEqual((await names()).sort(), ['alpha-store', 'beta-store'], 'only named stores by default');
    assert.equal(await page.getByText(unnamed.id).count(), 0);

    const usage = page.getByRole('region', { name: 'Usage' });
    await usage.getByText('2 named · 1 unnamed').waitFor();
    assert.match(await usage.innerText(), /STORES\s*3[\s\S]*RECORDS\s*3/i);

    const box = page.getByLabel('Include unnamed key-value stores');
    assert.equal(await box.isChecked(), false);
    await box.check();
    await page.getByText(unnamed.id).waitFor();
    assert.equal((await names()).length, 3);
    assert.ok((await names()).includes('Unnamed store'));
    await box.uncheck();
    await page.getByText(unnamed.id).waitFor({ state: 'detached' });

    // the beta row shows its records and size; sorting by Records puts it first, then last
    const betaRow = table.locator('tr', { hasText: 'beta-store' });
    assert.match(await betaRow.innerText(), /\b2\b/);
    await page.getByRole('button', { name: 'Records' }).click();
    assert.deepEqual(await names(), ['beta-store', 'alpha-store']);
    assert.equal(await page.getByRole('columnheader', { name: 'Records' }).getAttribute('aria-sort'), 'descending');
    await page.getByRole('button', { name: 'Records' }).click();
    assert.deepEqual(await names(), ['alpha-store', 'beta-store']);
    await page.getByRole('button', { name: 'Name' }).click();
    assert.deepEqual(await names(), ['alpha-store', 'beta-store']);
    assert.equal(await page.getByRole('columnheader', { name: 'Name' }).getAttribute('aria-sort'), 'ascending');

    await table.getByRole('link', { name: 'alpha-store' }).click();
    await page.getByRole('heading', { name: 'alpha-store', level: 1 }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/console/stores/${alpha.id}`);
    await page.goBack();
    await table.waitFor();
});

consoleTest('create a store, named and unnamed, and an invalid name is refused', async ({ server, page }) => {
    const client = makeClient(server);
    await signIn(page, server);
    await page.getByRole('heading', { name: 'No named key-value stores yet' }).waitFor();

    await page.getByRole('button', { name: 'Create store' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Create a key-value store' });
    await dialog.getByLabel('Store name').fill('bad_name!');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.getByRole('alert').getByText('That name is not valid').waitFor();
    await dialog.getByLabel('Store name').fill('my-first-store');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'my-first-store', level: 1 }).waitFor();
    const store = await client.keyValueStore(`admin~my-first-store`).get();
    assert.ok(store, 'the store exists');
    assert.equal(new URL(page.url()).pathname, `/console/stores/${store.id}`);
    await page.getByRole('heading', { name: 'This store is empty' }).waitFor();

    await page.getByRole('link', { name: 'Key-value stores' }).first().click();
    await page.getByRole('button', { name: 'Create store' }).first().click();
    await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'Unnamed store', level: 1 }).waitFor();
    const all = await client.keyValueStores().list({ unnamed: true });
    assert.equal(all.items.filter((s) => !s.name).length, 1, 'an unnamed store was created');
});

consoleTest('on a phone-sized screen nothing is wider than the screen', async ({ server, newPage }) => {
    const client = makeClient(server);
    const store = await client.keyValueStores().getOrCreate('a-store-with-a-rather-long-name-for-a-phone');
    await client.keyValueStore(store.id).setRecord({ key: 'some-record-key-that-is-long.json', value: { a: 'b' } });
    const page = await newPage({ viewport: PHONE, colorScheme: 'dark' });
    await signIn(page, server);
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await page.getByRole('table', { name: 'Your key-value stores' }).waitFor();
    assert.ok((await overflow()) <= 0, `the store list fits (${await overflow()} px too wide)`);
    await page.getByRole('link', { name: store.name }).click();
    await page.getByRole('button', { name: 'some-record-key-that-is-long.json' }).click();
    await page.getByText('"a"').waitFor();
    assert.ok((await overflow()) <= 0, `the store page fits (${await overflow()} px too wide)`);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Store name').waitFor();
    assert.ok((await overflow()) <= 0, `the settings fit (${await overflow()} px too wide)`);
});
