// browser.mjs — helpers for the console's browser tests (tests/console/).
//
// consoleTest() gives each test its own `kvs serve` on a free port (startServer) and its own
// Debian Chromium, started here with a fresh profile and driven by playwright-core over the
// DevTools protocol (never a browser Playwright downloads), and stops both by PID afterwards. Every test then asserts that no page had
// an uncaught error and that nothing broke the page's Content-Security-Policy.

import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';

import { chromium } from 'playwright-core';

import { makeTempDir, ms, startServer } from './server.mjs';

/** Debian's chromium package (tools/deps.sh test installs it). */
export const CHROMIUM = process.env.KVS_CHROMIUM || '/usr/bin/chromium';

/** What this machine's Chromium needs: no sandbox as root, and no calls home (the network is
 * closed: without these, Chromium retries connections at every start). launchBrowser() adds
 * a fresh --user-data-dir. */
export const CHROMIUM_ARGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/**
 * Starts Chromium with a fresh --user-data-dir and a DevTools port of its choosing, and
 * connects playwright-core to it. Returns { browser, pid, close() }; close() ends the process
 * group of that PID (SIGTERM, then SIGKILL) and removes the profile.
 */
export async function launchBrowser() {
    const profile = await makeTempDir('kvs-chromium-');
    // its own process group, so that its helper processes (zygote, renderers, crash handler)
    // are stopped with it
    const proc = spawn(CHROMIUM, [...CHROMIUM_ARGS, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
    });
    const signal = (sig) => {
        try {
            process.kill(-proc.pid, sig);
        } catch {
            // already gone
        }
    };
    const exited = new Promise((resolve) => proc.on('exit', resolve));
    let stderr = '';
    const endpoint = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`Chromium did not start in time:\n${stderr}`)), ms(30_000));
        proc.on('error', (e) => {
            clearTimeout(timer);
            reject(new Error(`cannot start ${CHROMIUM}: ${e.message} (tools/deps.sh test installs Debian's chromium)`));
        });
        proc.on('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`Chromium exited (${code}) before it listened:\n${stderr}`));
        });
        proc.stderr.setEncoding('utf8').on('data', (c) => {
            stderr += c;
            const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
            if (m) {
                clearTimeout(timer);
                resolve(m[1]);
            }
        });
    });
    const close = async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
            signal('SIGTERM');
            const timer = setTimeout(() => signal('SIGKILL'), ms(5_000));
            await exited;
            clearTimeout(timer);
        }
        signal('SIGKILL'); // any helper left behind
        proc.stderr.destroy(); // a helper holding the pipe would keep the test process alive
        await fs.rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    };
    try {
        const browser = await chromium.connectOverCDP(endpoint, { timeout: ms(30_000) });
        return { browser, pid: proc.pid, close };
    } catch (e) {
        await close();
        throw e;
    }
}

/** Opens a page in a new context of BROWSER, watching it for errors (into ERRORS). */
export async function openPage(browser, errors, { viewport = DESKTOP, colorScheme = 'light' } = {}) {
    const context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true });
    context.setDefaultTimeout(ms(15_000));
    const watch = (page) => {
        page.on('pageerror', (e) => errors.push(`uncaught error on ${page.url()}: ${e.stack || e.message}`));
        page.on('console', (m) => {
            if (/Content.Security.Policy|Trusted Type/i.test(m.text())) errors.push(`CSP violation on ${page.url()}: ${m.text()}`);
        });
    };
    context.on('page', watch);
    const page = await context.newPage();
    return { context, page };
}

/**
 * A browser test: TEST(name, fn) with a server and a signed-out page. FN gets
 * { server, page, context, browser, errors, newPage(opts) }. SERVER_OPTIONS go to
 * startServer. After FN, whatever happened: no uncaught page errors, no CSP violations.
 */
export function consoleTest(name, fn, { serverOptions = {}, viewport, timeout = 90_000 } = {}) {
    test(name, { timeout: ms(timeout) }, async () => {
        const errors = [];
        const server = await startServer(serverOptions);
        let launched = null;
        try {
            launched = await launchBrowser();
            const { context, page } = await openPage(launched.browser, errors, { viewport });
            // A test that hangs (a browser that went away mid-step) still ends in time, so
            // that the finally below stops its browser and server.
            let timer;
            const limit = new Promise((_, reject) => {
                timer = setTimeout(() => reject(new Error(`${name}: no end after ${ms(timeout - 5_000)} ms`)), ms(timeout - 5_000));
            });
            try {
                await Promise.race([
                    limit,
                    fn({
                        server,
                        page,
                        context,
                        browser: launched.browser,
                        errors,
                        newPage: async (opts) => (await openPage(launched.browser, errors, opts)).page,
                    }),
                ]);
            } finally {
                clearTimeout(timer);
            }
        } finally {
            await launched?.close();
            await server.stop();
        }
        assert.deepEqual(errors, [], 'no uncaught page errors and no CSP violations');
    });
}

/** Opens PATH of the console and signs in with TOKEN (default: the admin's). */
export async function signIn(page, server, { token = server.token, path = '/console/' } = {}) {
    await page.goto(server.url + path);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

// ---- test data ----------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
});

function crc32(buf) {
    let c = 0xffffffff;
    for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
}

/** A W×H RGB PNG whose pixels PIXEL(x, y) → [r, g, b] gives (default: a colour gradient). */
export function makePng(w, h, pixel = (x, y) => [(x * 255) / w, (y * 255) / h, 180]) {
    const raw = Buffer.alloc(h * (1 + w * 3));
    for (let y = 0; y < h; y++) {
        raw[y * (1 + w * 3)] = 0;
        for (let x = 0; x < w; x++) {
            const [r, g, b] = pixel(x, y);
            const o = y * (1 + w * 3) + 1 + x * 3;
            raw[o] = r;
            raw[o + 1] = g;
            raw[o + 2] = b;
        }
    }
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0);
    ihdr.writeUInt32BE(h, 4);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 2; // RGB
    return Buffer.concat([
        Buffer.from('89504e470d0a1a0a', 'hex'),
        chunk('IHDR', ihdr),
        chunk('IDAT', zlib.deflateSync(raw)),
        chunk('IEND', Buffer.alloc(0)),
    ]);
}

/**
 * Drops a file on the element matched by SELECTOR, as a drag and drop from the desktop does
 * (a DataTransfer with one File).
 */
export async function dropFile(page, selector, { name, mimeType, buffer }) {
    await page.evaluate(
        ({ selector: sel, name: n, mimeType: t, bytes }) => {
            const target = document.querySelector(sel);
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], n, { type: t }));
            for (const type of ['dragenter', 'dragover', 'drop']) {
                target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
            }
        },
        { selector, name, mimeType, bytes: [...buffer] },
    );
}
