// Signing in and out of the console, a wrong token, and a store's consoleUrl opened directly
// (before signing in, and again after a reload).
import assert from 'node:assert/strict';

import { consoleTest, signIn } from '../lib/browser.mjs';
import { makeClient } from '../lib/server.mjs';

consoleTest('sign in with the keyboard, stay signed in on reload, sign out', async ({ server, page }) => {
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    await page.getByLabel('API token').focus();
    await page.keyboard.type(server.token);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Key-value stores', level: 1 }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('kvs.console.token')), server.token, 'the token lives in sessionStorage');
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'and nowhere that outlives the tab');
    assert.ok(!page.url().includes(server.token), 'never in the URL');
    await page.getByText('admin', { exact: true }).first().waitFor();

    await page.reload();
    await page.getByRole('heading', { name: 'Key-value stores', level: 1 }).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('kvs.console.token')), null, 'sign out forgets the token');
    await page.reload();
    await page.getByLabel('API token').waitFor();
});

consoleTest('a wrong token gets a readable message, and nothing is kept', async ({ server, page }) => {
    await page.goto(`${server.url}/console/`);
    await page.getByLabel('API token').fill('kvs_this-is-not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Sign-in failed\. That token was not accepted/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('kvs.console.token')), null);
    await page.getByLabel('API token').fill('');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match(await page.getByRole('alert').innerText(), /Enter an API token/);
    // the right one still works afterwards
    await page.getByLabel('API token').fill(server.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Key-value stores', level: 1 }).waitFor();
});

consoleTest('a revoked token ends the session with a message', async ({ server, page }) => {
    const client = makeClient(server);
    const res = await fetch(`${server.url}/v2/users/admin/tokens`, { method: 'POST', headers: { Authorization: `Bearer ${server.token}` } });
    const second = (await res.json()).data;
    await signIn(page, server, { token: second.token });
    // The store list's requests answered first: one still in flight when the token goes would
    // meet the revocation and sign out before the reload, which then starts afresh.
    await page.getByText('No named key-value stores yet').waitFor();
    await page.locator('.stat-card').nth(2).waitFor();
    await client.keyValueStores().getOrCreate('after-revoke');
    const del = await fetch(`${server.url}/v2/tokens/${second.prefix}`, { method: 'DELETE', headers: { Authorization: `Bearer ${server.token}` } });
    assert.equal(del.status, 204);
    await page.reload();
    await page.getByLabel('API token').waitFor();
    await page.getByText('the token is no longer valid').waitFor();
});

consoleTest('a store\'s consoleUrl opens the store directly, also after a reload', async ({ server, page }) => {
    const client = makeClient(server);
    const store = await client.keyValueStores().getOrCreate('deep-link');
    await client.keyValueStore(store.id).setRecord({ key: 'hello', value: 'world', contentType: 'text/plain' });
    assert.equal(store.consoleUrl, `${server.url}/console/stores/${store.id}`);

    await page.goto(store.consoleUrl);
    await page.getByLabel('API token').fill(server.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'deep-link', level: 1 }).waitFor();
    assert.equal(page.url(), store.consoleUrl, 'signing in keeps the address');
    await page.getByRole('button', { name: 'hello' }).waitFor();

    await page.reload();
    await page.getByRole('heading', { name: 'deep-link', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'hello' }).click();
    await page.getByText('world', { exact: true }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get('key'), 'hello', 'the selected record is in the address');
    await page.reload();
    await page.getByText('world', { exact: true }).waitFor();

    await page.goto(`${server.url}/console/stores/NoSuchStore12345`);
    await page.getByRole('alert').getByText('There is no key-value store NoSuchStore12345').waitFor();
    await page.goto(`${server.url}/console/nothing/here`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
});
