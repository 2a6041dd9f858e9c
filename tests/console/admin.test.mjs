// The admin's pages: create a user, whose token is shown once; that user signs in with it and
// sees only their own stores. Tokens: list, create, revoke.
import assert from 'node:assert/strict';

import { consoleTest, signIn } from '../lib/browser.mjs';
import { makeClient } from '../lib/server.mjs';
import { createUser } from '../lib/users.mjs';

consoleTest('the admin creates a user, who signs in with the shown token and sees only their stores', async ({ server, page }) => {
    const client = makeClient(server);
    await client.keyValueStores().getOrCreate('admins-secret-store');
    await signIn(page, server);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await page.getByLabel('Username').fill('dave');
    await page.getByRole('button', { name: 'Create user' }).click();
    const token = await page.getByTestId('new-token').innerText();
    assert.match(token, /^kvs_[A-Za-z0-9]{40}$/);
    await page.getByText('shown only this once').waitFor();
    await page.getByRole('cell', { name: 'dave', exact: true }).waitFor();
    await page.getByLabel('Username').fill('dave');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('alert').getByText('already exists').waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'No named key-value stores yet' }).waitFor();
    assert.equal(await page.getByText('admins-secret-store').count(), 0, 'the admin\'s stores are not shown');
    assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0, 'no admin pages for a user');

    await page.getByRole('button', { name: 'Create store' }).first().click();
    await page.getByRole('dialog').getByLabel('Store name').fill('daves-store');
    await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'daves-store', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Key-value stores' }).first().click();
    const table = page.getByRole('table', { name: 'Your key-value stores' });
    await table.waitFor();
    assert.deepEqual(await table.locator('tbody tr td:first-child a').allInnerTexts(), ['daves-store']);

    await page.goto(`${server.url}/console/admin/users`);
    await page.getByText('Only admins can see this page.').waitFor();
});

consoleTest('the admin lists, creates and revokes a user\'s tokens', async ({ server, page }) => {
    const erin = await createUser(server, 'erin');
    await signIn(page, server, { path: `/console/admin/tokens?user=${erin.username}` });
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor();
    const rows = page.getByRole('table', { name: `API tokens of ${erin.username}` }).locator('tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().innerText(), new RegExp(erin.token.slice(0, 12)));

    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.getByTestId('new-token').innerText();
    await page.waitForFunction(() => document.querySelectorAll('table tbody tr').length === 2);
    const me = await fetch(`${server.url}/v2/users/me`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal((await me.json()).data.username, erin.username, 'the new token is erin\'s');

    await page.getByRole('button', { name: `Revoke token ${erin.token.slice(0, 12)}` }).click();
    await page.getByRole('dialog', { name: 'Revoke token' }).getByRole('button', { name: 'Revoke token' }).click();
    await page.waitForFunction(() => document.querySelectorAll('table tbody tr').length === 1);
    const old = await fetch(`${server.url}/v2/users/me`, { headers: { Authorization: `Bearer ${erin.token}` } });
    assert.equal(old.status, 401, 'the revoked token is refused');
});

consoleTest('the admin creates a limited, expiring token; signed in with it, the console shows what it may do', async ({ server, page }) => {
    const frank = await createUser(server, 'frank');
    const client = makeClient(server, { token: frank.token });
    const mine = await client.keyValueStores().getOrCreate('tmp-frank');
    await client.keyValueStores().getOrCreate('private-frank');
    await signIn(page, server, { path: `/console/admin/tokens?user=${frank.username}` });
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor();
    const rows = page.getByRole('table', { name: `API tokens of ${frank.username}` }).locator('tbody tr');
    await rows.first().waitFor();

    const form = page.getByRole('region', { name: 'Create a token' });
    await form.getByLabel('Only these stores').check();
    await form.getByLabel('Store', { exact: true }).fill('tmp-*');
    await form.getByLabel('Access').selectOption('WRITE');
    await form.getByLabel('Expires').selectOption({ label: '7 days' });
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.getByTestId('new-token').innerText();
    await page.waitForFunction(() => document.querySelectorAll('table tbody tr').length === 2);
    const row = rows.filter({ hasText: token.slice(0, 12) });
    assert.match(await row.innerText(), /tmp-\* \(read and write\); no administration/);
    const me = (await (await fetch(`${server.url}/v2/users/me`, { headers: { Authorization: `Bearer ${token}` } })).json()).data;
    assert.deepEqual(me.currentToken.scope, { stores: [{ namePrefix: 'tmp-', username: frank.username, access: 'WRITE' }], administration: false });
    const days = (Date.parse(me.currentToken.expiresAt) - Date.now()) / 86400000;
    assert.ok(days > 6.9 && days <= 7, `7 days: ${days}`);
    // nothing named: refused before any request
    await form.getByLabel('Only these stores').check();
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByText('Name at least one store').waitFor();
    await form.getByLabel('Every store the user may use, reading only').check();
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.waitForFunction(() => document.querySelectorAll('table tbody tr').length === 3);
    await rows.filter({ hasText: 'every store (read); no administration' }).waitFor();

    // signed in with the limited token: its stores only, what it may do said, no settings
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('limited token', { exact: true }).waitFor();
    await page.getByText('It reaches: tmp-* (read and write); no administration.').waitFor();
    const table = page.getByRole('table', { name: 'Your key-value stores' });
    await table.waitFor();
    assert.deepEqual(await table.locator('tbody tr td:first-child a').allInnerTexts(), ['tmp-frank']);
    await page.goto(`${server.url}/console/stores/${mine.id}`);
    await page.getByRole('heading', { name: 'tmp-frank', level: 1 }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Settings' }).count(), 0, 'no settings without administration');
});
