// screenshots.mjs — `make screenshots`: the pictures of the console in docs/ (README.md shows
// them). Starts build/kvs on a free port with some demo stores, opens the console in Debian's
// Chromium at desktop and phone sizes, light and dark, and saves PNGs. Not a test.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { DESKTOP, PHONE, launchBrowser, makePng, openPage, signIn } from '../tests/lib/browser.mjs';
import { makeClient, startServer } from '../tests/lib/server.mjs';

const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs');

async function seed(server) {
    const client = makeClient(server);
    const make = async (name, records) => {
        const store = await client.keyValueStores().getOrCreate(name);
        const kvs = client.keyValueStore(store.id);
        for (const r of records) await kvs.setRecord(r);
        return store;
    };
    const crawl = await make('crawler-results', [
        { key: 'INPUT', value: { startUrls: [{ url: 'https://example.com/' }], maxDepth: 3, proxy: { useApifyProxy: false } } },
        {
            key: 'OUTPUT',
            value: {
                pages: 1284,
                failed: 3,
                finishedAt: '2026-12-03T07:12:44.120Z',
                top: [
                    { url: 'https://example.com/pricing', status: 200, bytes: 48213 },
                    { url: 'https://example.com/docs', status: 200, bytes: 91022 },
                ],
                ok: true,
            },
        },
        { key: 'SDK_CRAWLER_STATISTICS_0', value: { requestsFinished: 1284, requestsFailed: 3, requestAvgFinishedDurationMillis: 412 } },
        { key: 'page-home.html', value: '<!doctype html>\n<html><head><title>Example</title></head>\n<body><h1>Hello</h1><script>track()</script></body></html>\n', contentType: 'text/html; charset=utf-8' },
        { key: 'run.log', value: 'INFO  Crawler started\nINFO  1284 pages in 9 min\nWARN  3 requests failed after 3 retries\n', contentType: 'text/plain; charset=utf-8' },
        { key: 'screenshot-home.png', value: makePng(480, 300, (x, y) => [40 + (x * 140) / 480, 90 + (y * 100) / 300, 230 - (x * 60) / 480]), contentType: 'image/png' },
        { key: 'report.pdf', value: Buffer.from('%PDF-1.4\n% demo\n'), contentType: 'application/pdf' },
    ]);
    await make('product-catalog', Array.from({ length: 24 }, (_, i) => ({ key: `product-${String(i + 1).padStart(4, '0')}`, value: { sku: `SKU-${1000 + i}`, price: 9.99 + i, inStock: i % 3 !== 0 } })));
    await make('thumbnails', [{ key: 'logo.png', value: makePng(64, 64), contentType: 'image/png' }]);
    await make('daily-export', [{ key: 'export.csv', value: 'id,name,price\n1,Lamp,19.90\n2,Chair,49.00\n', contentType: 'text/csv; charset=utf-8' }]);
    await client.keyValueStores().getOrCreate();
    return crawl;
}

/** Runs as `kvs run` makes them (POST /v2/actor-runs, .../finish); returns the last one. */
async function seedRuns(server) {
    const client = makeClient(server);
    const post = async (path, body) => {
        const res = await fetch(`${server.url}${path}`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
            body: JSON.stringify(body),
        });
        return (await res.json()).data;
    };
    const runs = [];
    for (const [actor, status, exitCode, output] of [
        ['daily-export', 'SUCCEEDED', 0, { rows: 1204, file: 'export.csv' }],
        ['price-watch', 'FAILED', 1, null],
        ['site-crawler', 'TIMED-OUT', 143, null],
        ['site-crawler', 'SUCCEEDED', 0, { pages: 1284, failed: 3, top: ['https://example.com/pricing', 'https://example.com/docs'], ok: true }],
        ['price-watch', null, null, null],
    ]) {
        const run = await post('/v2/actor-runs', { actor, origin: 'CLI', timeoutSecs: 3600 });
        const kvs = client.run(run.id).keyValueStore();
        await kvs.setRecord({ key: 'INPUT', value: { startUrls: [{ url: 'https://example.com/' }], maxDepth: 3 } });
        if (output) await kvs.setRecord({ key: 'OUTPUT', value: output });
        if (status) {
            await client.run(run.id).update({ statusMessage: status === 'SUCCEEDED' ? 'Done' : 'Stopped', isStatusMessageTerminal: true });
            await post(`/v2/actor-runs/${run.id}/finish`, { status, exitCode });
        } else {
            await client.run(run.id).update({ statusMessage: 'Checking 38 of 120 products' });
        }
        runs.push(run);
    }
    return runs[3];
}

async function shot(browser, server, { file, viewport, colorScheme, path: p, prepare }) {
    const errors = [];
    const { context, page } = await openPage(browser, errors, { viewport, colorScheme });
    await signIn(page, server, { path: p });
    if (prepare) await prepare(page);
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(DOCS, file) });
    await context.close();
    if (errors.length) throw new Error(errors.join('\n'));
    console.log(`docs/${file}`);
}

const server = await startServer();
const launched = await launchBrowser();
try {
    const crawl = await seed(server);
    const run = await seedRuns(server);
    const storeUrl = `/console/stores/${crawl.id}`;
    const table = (page) => page.getByRole('table', { name: 'Your key-value stores' }).waitFor();
    await shot(launched.browser, server, { file: 'console-stores.png', viewport: DESKTOP, colorScheme: 'light', path: '/console/', prepare: table });
    await shot(launched.browser, server, { file: 'console-stores-dark.png', viewport: DESKTOP, colorScheme: 'dark', path: '/console/', prepare: table });
    await shot(launched.browser, server, {
        file: 'console-record-json.png',
        viewport: DESKTOP,
        colorScheme: 'light',
        path: `${storeUrl}?key=OUTPUT`,
        prepare: (page) => page.locator('.preview-body pre').waitFor(),
    });
    await shot(launched.browser, server, {
        file: 'console-record-image-dark.png',
        viewport: DESKTOP,
        colorScheme: 'dark',
        path: `${storeUrl}?key=screenshot-home.png`,
        prepare: (page) => page.locator('.preview-image').waitFor(),
    });
    await shot(launched.browser, server, { file: 'console-settings.png', viewport: DESKTOP, colorScheme: 'light', path: `${storeUrl}/settings`, prepare: (page) => page.getByRole('heading', { name: 'Not shared with anyone' }).waitFor() });
    await shot(launched.browser, server, { file: 'console-phone.png', viewport: PHONE, colorScheme: 'light', path: '/console/', prepare: table });
    await shot(launched.browser, server, {
        file: 'console-phone-dark.png',
        viewport: PHONE,
        colorScheme: 'dark',
        path: `${storeUrl}?key=OUTPUT`,
        prepare: async (page) => {
            await page.locator('.preview-body pre').waitFor();
            await page.locator('.preview-card').scrollIntoViewIfNeeded();
        },
    });
    await shot(launched.browser, server, {
        file: 'console-runs.png',
        viewport: DESKTOP,
        colorScheme: 'light',
        path: '/console/runs',
        prepare: (page) => page.getByRole('table', { name: 'Your Actor runs, newest first' }).waitFor(),
    });
    await shot(launched.browser, server, {
        file: 'console-run-output.png',
        viewport: DESKTOP,
        colorScheme: 'light',
        path: `/console/runs/${run.id}`,
        prepare: (page) => page.locator('.preview-body pre').waitFor(),
    });
} finally {
    await launched.close();
    await server.stop();
}
