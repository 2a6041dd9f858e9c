// Actor runs in the console (js/runs.js): the Runs page (status, Actor, start, duration, exit
// code; a status filter; pages), a run's page with its Output tab showing a JSON and an image
// OUTPUT as the Records tab shows records (an HTML one as text, never rendered), its Input tab,
// the Abort button, and the default store's page linking back to its run.
import assert from 'node:assert/strict';

import { consoleTest, makePng, signIn } from '../lib/browser.mjs';
import { dataOf, makeClient, request } from '../lib/server.mjs';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

async function startRun(server, actor) {
    const res = await request(server, { method: 'POST', path: '/v2/actor-runs', headers: JSON_HEADERS, body: JSON.stringify({ actor, origin: 'CLI' }) });
    return dataOf(res, 201);
}

async function finishRun(server, id, status, exitCode) {
    dataOf(await request(server, { method: 'POST', path: `/v2/actor-runs/${id}/finish`, headers: JSON_HEADERS, body: JSON.stringify({ status, exitCode }) }));
}

consoleTest('the Runs page: statuses, a filter, pages; a run\'s Output and Input tabs', async ({ server, page }) => {
    const client = makeClient(server);
    const ok = await startRun(server, 'scraper');
    await client.run(ok.id).keyValueStore().setRecord({ key: 'INPUT', value: { query: 'kvstore' } });
    await client.run(ok.id).keyValueStore().setRecord({ key: 'OUTPUT', value: { found: 3, items: ['a', 'b', 'c'] } });
    await finishRun(server, ok.id, 'SUCCEEDED', 0);
    const bad = await startRun(server, 'crawler');
    await finishRun(server, bad.id, 'FAILED', 2);
    const live = await startRun(server, 'watcher');

    await signIn(page, server, { path: '/console/runs' });
    await page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
    const table = page.getByRole('table', { name: 'Your Actor runs, newest first' });
    await table.waitFor();
    const rows = table.locator('tbody tr');
    assert.equal(await rows.count(), 3);
    // newest first: watcher, crawler, scraper
    assert.match(await rows.nth(0).innerText(), /RUNNING[\s\S]*watcher/);
    assert.match(await rows.nth(1).innerText(), /FAILED[\s\S]*crawler[\s\S]*\b2\s*$/);
    assert.match(await rows.nth(2).innerText(), /SUCCEEDED[\s\S]*scraper[\s\S]*\b0\s*$/);

    // the filter
    await page.getByLabel('Status').selectOption('FAILED');
    await page.waitForURL(/status=FAILED/);
    await table.locator('tbody tr').first().waitFor();
    assert.equal(await table.locator('tbody tr').count(), 1);
    assert.match(await table.innerText(), /crawler/);
    await page.getByLabel('Status').selectOption('ABORTED');
    await page.getByRole('heading', { name: 'No ABORTED runs' }).waitFor();

    // a run's page: its Output, pretty-printed; its Input
    await page.goto(`${server.url}/console/runs`);
    await page.getByRole('link', { name: ok.id }).click();
    await page.getByRole('heading', { name: 'Run of scraper', level: 1 }).waitFor();
    const pre = page.locator('.preview-body pre');
    await pre.waitFor();
    assert.equal(await pre.innerText(), JSON.stringify({ found: 3, items: ['a', 'b', 'c'] }, null, 2));
    assert.match(await page.locator('.stats').innerText(), /Exit code\s*0\b/i);
    assert.equal(await page.getByRole('button', { name: 'Abort' }).count(), 0, 'no Abort on a finished run');
    await page.getByRole('link', { name: 'Input' }).click();
    await page.locator('.preview-body pre', { hasText: 'kvstore' }).waitFor();
    assert.match(page.url(), /\/input$/);
    // a run without OUTPUT says so
    await page.goto(`${server.url}/console/runs/${bad.id}`);
    await page.getByRole('heading', { name: 'No OUTPUT' }).waitFor();

    // pages of 10
    for (let i = 0; i < 9; i++) await startRun(server, `many-${i}`);
    await page.goto(`${server.url}/console/runs?limit=10`);
    await table.locator('tbody tr').first().waitFor();
    assert.equal(await table.locator('tbody tr').count(), 10);
    assert.match(await page.locator('.pager-info').innerText(), /1–10 of 12/);
    await page.getByRole('button', { name: 'Next page of runs' }).click();
    await page.waitForURL(/offset=10/);
    await page.locator('.pager-info', { hasText: '11–12 of 12' }).waitFor();
    assert.equal(await table.locator('tbody tr').count(), 2);
    await finishRun(server, live.id, 'SUCCEEDED', 0);
});

consoleTest('an image OUTPUT is shown from its bytes; an HTML OUTPUT as text only', async ({ server, page, errors }) => {
    const client = makeClient(server);
    const run = await startRun(server, 'screenshots');
    const png = makePng(40, 30);
    await client.run(run.id).keyValueStore().setRecord({ key: 'OUTPUT', value: png, contentType: 'image/png' });
    await finishRun(server, run.id, 'SUCCEEDED', 0);
    await signIn(page, server, { path: `/console/runs/${run.id}` });
    const img = page.getByRole('img', { name: 'Record OUTPUT' });
    await img.waitFor();
    await page.waitForFunction(() => document.querySelector('.preview-image')?.complete);
    const shown = await img.evaluate((el) => ({ w: el.naturalWidth, h: el.naturalHeight, src: el.src }));
    assert.deepEqual([shown.w, shown.h], [40, 30]);
    assert.match(shown.src, /^blob:/);

    const html = await startRun(server, 'pages');
    const markup = '<h1 id="pwned">hi</h1><script>window.pwned = 1</script>';
    await client.run(html.id).keyValueStore().setRecord({ key: 'OUTPUT', value: markup, contentType: 'text/html; charset=utf-8' });
    await page.goto(`${server.url}/console/runs/${html.id}`);
    await page.locator('.preview-body pre', { hasText: '<script>' }).waitFor();
    assert.equal(await page.locator('#pwned').count(), 0, 'the markup was not rendered');
    assert.equal(await page.evaluate(() => window.pwned), undefined, 'nothing of it ran');
    assert.deepEqual(errors, []);
});

consoleTest('Abort a running run; its store says whose it is and links back', async ({ server, page }) => {
    const client = makeClient(server);
    const run = await startRun(server, 'long');
    await client.run(run.id).update({ statusMessage: 'Crawling page 7 of 10' });
    await signIn(page, server, { path: `/console/runs/${run.id}` });
    await page.getByRole('heading', { name: 'Run of long', level: 1 }).waitFor();
    await page.getByText('Crawling page 7 of 10').waitFor();
    await page.getByRole('heading', { name: 'No OUTPUT' }).waitFor();
    await page.getByRole('button', { name: 'Abort' }).click();
    const dialog = page.getByRole('dialog', { name: 'Abort this run?' });
    await dialog.getByRole('button', { name: 'Abort run' }).click();
    await page.locator('.run-status', { hasText: 'ABORTING' }).first().waitFor();
    assert.equal((await client.run(run.id).get()).status, 'ABORTING');
    // its runner ends it: the page follows by itself
    await finishRun(server, run.id, 'FAILED', 143);
    await page.locator('.run-status', { hasText: 'ABORTED' }).first().waitFor({ timeout: 15_000 });
    assert.equal(await page.getByRole('button', { name: 'Abort' }).count(), 0);

    // the default store's page
    await page.getByRole('link', { name: run.defaultKeyValueStoreId }).click();
    await page.getByText('The default store of run').waitFor();
    await page.getByRole('link', { name: run.id }).click();
    await page.getByRole('heading', { name: 'Run of long', level: 1 }).waitFor();
    // the Runs link of the menu
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Runs' }).click();
    await page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
});
