// runs.js — Actor runs: the Runs page (the caller's runs, newest first, filtered by status,
// paginated by the server) and a run's page (status, times, exit code, status message, its
// default store, an Abort button while it runs, and its Input and Output records previewed as
// the Records tab previews them, with the same safety: preview.js).
//
// URLs: /console/runs, /console/runs/{id} (Output), /console/runs/{id}/input.

import { call } from './api.js';
import { formatNumber, h, replace, timeEl } from './dom.js';
import { button, confirmDialog, copyButton, emptyState, errorNotice, notice, spinner, tabs, toast } from './ui.js';
import { downloadRecord, previewRecord } from './preview.js';

const PAGE_SIZES = [10, 25, 50, 100];
const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED-OUT', 'ABORTING', 'READY'];
const FINISHED = new Set(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED-OUT']);
const REFRESH_MS = 2000; // a running run's page looks again this often

const runPath = (id) => `/v2/actor-runs/${encodeURIComponent(id)}`;

export function statusBadge(status) {
    const kind = status === 'SUCCEEDED' ? 'ok' : status === 'FAILED' || status === 'TIMED-OUT' ? 'bad' : status === 'ABORTED' || status === 'ABORTING' ? 'warn' : 'live';
    return h('span', { class: `badge run-status run-${kind}` }, status);
}

/** "1 h 2 min", "3.4 s": how long RUN ran (or has run so far). */
export function duration(run, now = Date.now()) {
    const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
    const ms = Math.max(0, end - Date.parse(run.startedAt));
    if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
    const min = Math.floor(ms / 60_000);
    if (min < 60) return `${min} min ${Math.floor((ms % 60_000) / 1000)} s`;
    return `${Math.floor(min / 60)} h ${min % 60} min`;
}

// ---- the Runs page -----------------------------------------------------------------------

export function runsPage(ctx) {
    document.title = 'Runs · kvstore';
    const status = ctx.query.get('status') || '';
    const state = { offset: Number(ctx.query.get('offset')) || 0, limit: Number(ctx.query.get('limit')) || 25, status };
    if (!PAGE_SIZES.includes(state.limit)) state.limit = 25;
    const listEl = h('section', { class: 'card', 'aria-label': 'Runs' });

    /** Goes to the runs page with CHANGES to its query (kept in the URL: a reload shows the same). */
    const go = (changes) => {
        const q = new URLSearchParams({ ...(state.status ? { status: state.status } : {}), offset: String(state.offset), limit: String(state.limit), ...changes });
        if (!q.get('status')) q.delete('status');
        if (q.get('offset') === '0') q.delete('offset');
        if (q.get('limit') === '25') q.delete('limit');
        const s = q.toString();
        ctx.navigate(`/console/runs${s ? `?${s}` : ''}`);
    };

    const filter = h(
        'select',
        { 'aria-label': 'Status', class: 'select-small', id: 'run-status-filter' },
        h('option', { value: '' }, 'All statuses'),
        STATUSES.map((s) => h('option', { value: s, selected: s === state.status ? true : null }, s)),
    );
    filter.addEventListener('change', () => go({ status: filter.value, offset: '0' }));

    function row(run) {
        const href = `/console/runs/${run.id}`;
        return h(
            'tr',
            {},
            h('td', {}, statusBadge(run.status)),
            h('td', { class: 'cell-name' }, ctx.link(href, run.actorName || run.actId)),
            h('td', { class: 'mono cell-id' }, ctx.link(href, run.id), copyButton(run.id, 'Copy run ID', 'Run ID copied')),
            h('td', { class: 'num' }, timeEl(run.startedAt)),
            h('td', { class: 'num' }, duration(run)),
            h('td', { class: 'num' }, run.exitCode === null || run.exitCode === undefined ? '–' : String(run.exitCode)),
        );
    }

    async function load() {
        replace(listEl, spinner('Loading runs…'));
        let d;
        try {
            d = await call('GET', '/v2/actor-runs', { query: { offset: state.offset, limit: state.limit, desc: true, status: state.status }, signal: ctx.signal });
        } catch (err) {
            if (err.name !== 'AbortError') replace(listEl, errorNotice(err, load));
            return;
        }
        if (d.items.length === 0) {
            replace(
                listEl,
                emptyState(
                    state.status ? `No ${state.status} runs` : 'No runs yet',
                    state.status && d.total === 0
                        ? 'Choose another status to see other runs.'
                        : 'A run is an Actor’s execution: start one on your machine with kvs run -- node main.js, and its input, output and status show here.',
                ),
            );
            return;
        }
        const sizeSel = h('select', { 'aria-label': 'Runs per page', class: 'select-small' }, PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === state.limit ? true : null }, `${n} / page`)));
        sizeSel.addEventListener('change', () => go({ limit: sizeSel.value, offset: '0' }));
        const last = d.offset + d.items.length;
        replace(
            listEl,
            h(
                'div',
                { class: 'table-wrap' },
                h(
                    'table',
                    { class: 'table table-runs' },
                    h('caption', { class: 'sr-only' }, 'Your Actor runs, newest first'),
                    h('thead', {}, h('tr', {}, ['Status', 'Actor', 'Run ID', 'Started', 'Duration', 'Exit code'].map((t, i) => h('th', { scope: 'col', class: i >= 3 ? 'num' : null }, t)))),
                    h('tbody', {}, d.items.map(row)),
                ),
            ),
            h(
                'div',
                { class: 'pager' },
                h('span', { class: 'pager-info' }, `${formatNumber(d.offset + 1)}–${formatNumber(last)} of ${formatNumber(d.total)}`),
                sizeSel,
                button('Previous', () => go({ offset: String(Math.max(0, state.offset - state.limit)) }), { disabled: state.offset === 0, 'aria-label': 'Previous page of runs' }),
                button('Next', () => go({ offset: String(state.offset + state.limit) }), { disabled: last >= d.total, 'aria-label': 'Next page of runs' }),
            ),
        );
    }

    load();
    return h(
        'div',
        { class: 'page' },
        h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Runs'), h('p', { class: 'muted' }, 'Your Actor runs, newest first. Each has a default key-value store with its INPUT and OUTPUT.'))),
        h('div', { class: 'toolbar' }, h('label', { for: 'run-status-filter' }, 'Status '), filter),
        listEl,
    );
}

// ---- one run -----------------------------------------------------------------------------

/** The Input or Output tab: record KEY of the run's default store, previewed, or why not. */
function recordTab(ctx, run, key) {
    const store = { id: run.defaultKeyValueStoreId };
    const body = h('div', {}, spinner(`Looking for ${key}…`));
    (async () => {
        let keys;
        try {
            keys = await call('GET', `/v2/key-value-stores/${encodeURIComponent(store.id)}/keys`, { query: { prefix: key, limit: 10, includeContentTypes: true }, signal: ctx.signal });
        } catch (err) {
            if (err.name !== 'AbortError') replace(body, errorNotice(err));
            return;
        }
        const item = keys.items.find((k) => k.key === key);
        if (!item) {
            const text =
                key === 'INPUT'
                    ? 'This run was started without an input (kvs run --input FILE or --input-json JSON gives one).'
                    : FINISHED.has(run.status)
                      ? 'The Actor stored no record OUTPUT (Actor.setValue(\'OUTPUT\', …) stores one).'
                      : 'No OUTPUT yet: the Actor has not stored one so far.';
            replace(body, emptyState(`No ${key}`, text));
            return;
        }
        replace(body, previewRecord({ store, key, item, signal: ctx.signal, actions: { download: () => downloadRecord(store, key), edit: null, remove: null } }));
    })();
    return body;
}

export function runPage(ctx) {
    const { id, tab } = ctx.params;
    const root = h('div', { class: 'page' }, spinner('Loading the run…'));
    const headEl = h('div', { class: 'run-head' });
    let run = null;
    let timer = null;

    const crumbs = (label) => h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, ctx.link('/console/runs', 'Runs'), h('span', { 'aria-hidden': 'true' }, ' / '), h('span', {}, label));

    async function abort() {
        const force = run.status === 'ABORTING';
        const ok = await confirmDialog(
            force ? 'End this run now?' : 'Abort this run?',
            force
                ? 'The run was asked to stop already. End it now if its kvs run is no longer there to do it: it is marked ABORTED.'
                : 'kvs run stops the Actor (SIGTERM, then SIGKILL after a grace period) and marks the run ABORTED.',
            force ? 'End run' : 'Abort run',
        );
        if (!ok) return;
        try {
            run = await call('POST', `${runPath(id)}/abort`);
            toast(run.status === 'ABORTED' ? 'The run was ended' : 'The run is being aborted');
            drawHead();
        } catch (err) {
            toast(`Could not abort the run: ${err.message}`, 'error');
        }
    }

    function drawHead() {
        document.title = `Run ${run.id} · kvstore`;
        const finished = FINISHED.has(run.status);
        const item = (label, value) => h('div', { class: 'stat' }, h('dt', {}, label), h('dd', {}, value));
        replace(
            headEl,
            crumbs(run.id),
            h(
                'div',
                { class: 'page-head' },
                h(
                    'div',
                    {},
                    h('h1', {}, `Run of ${run.actorName || run.actId}`),
                    h(
                        'div',
                        { class: 'store-meta' },
                        statusBadge(run.status),
                        h('span', { class: 'meta-item mono' }, run.id, copyButton(run.id, 'Copy run ID', 'Run ID copied')),
                        h('span', { class: 'meta-item' }, `Origin: ${run.meta?.origin || '–'}`),
                    ),
                ),
                !finished ? button(run.status === 'ABORTING' ? 'End run' : 'Abort', abort, { kind: 'danger' }) : null,
            ),
            run.statusMessage ? notice(finished && run.status !== 'SUCCEEDED' ? 'warning' : 'info', h('strong', {}, 'Status: '), h('span', { class: 'status-message' }, run.statusMessage)) : null,
            h(
                'dl',
                { class: 'stats', 'aria-label': 'Run' },
                item('Started', timeEl(run.startedAt)),
                item('Finished', run.finishedAt ? timeEl(run.finishedAt) : '–'),
                item('Duration', duration(run)),
                item('Exit code', run.exitCode === null || run.exitCode === undefined ? '–' : String(run.exitCode)),
                item('Timeout', run.options?.timeoutSecs ? `${formatNumber(run.options.timeoutSecs)} s` : 'none'),
                item('Default store', ctx.link(`/console/stores/${run.defaultKeyValueStoreId}`, h('span', { class: 'mono' }, run.defaultKeyValueStoreId))),
            ),
        );
    }

    function draw() {
        const base = `/console/runs/${run.id}`;
        const items = [
            { label: 'Output', href: base, current: tab !== 'input' },
            { label: 'Input', href: `${base}/input`, current: tab === 'input' },
        ];
        drawHead();
        replace(root, headEl, tabs(items, (e, href) => ctx.navigate(href, e), 'Run sections'), h('div', { class: 'tab-body' }, recordTab(ctx, run, tab === 'input' ? 'INPUT' : 'OUTPUT')));
    }

    /** While the run runs, look at it again now and then; the Output tab follows its end. */
    function watch() {
        if (FINISHED.has(run.status) || ctx.signal.aborted) return;
        timer = setTimeout(async () => {
            try {
                const was = run.status;
                run = await call('GET', runPath(id), { signal: ctx.signal });
                if (FINISHED.has(run.status) && !FINISHED.has(was)) draw();
                else drawHead();
            } catch {
                // the next look may work; the page shows what it had
            }
            watch();
        }, REFRESH_MS);
    }
    ctx.signal.addEventListener('abort', () => clearTimeout(timer));

    (async () => {
        try {
            run = await call('GET', runPath(id), { signal: ctx.signal });
        } catch (err) {
            if (err.name === 'AbortError') return;
            document.title = 'Run · kvstore';
            replace(root, crumbs(id), h('h1', {}, 'Run'), errorNotice(err.status === 404 ? Object.assign(err, { message: `There is no run ${id}: it may have been deleted, or expired with its store.` }) : err));
            return;
        }
        draw();
        watch();
    })();
    return root;
}
