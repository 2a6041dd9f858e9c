// records.js — a store's Records tab: one page of keys at a time, a prefix filter, and the
// preview of the selected record; upload (picker or drag and drop), a text/JSON editor,
// download and delete.
//
// Only ever one page of keys is asked for (limit ≤ 1000, from exclusiveStartKey), so a store
// of a million keys opens as fast as a small one. "Previous" works from the start keys of the
// pages seen so far.
//
// A value larger than the server takes (GET /health's maxRecordSize) is refused before a byte
// is sent, and an upload shows its progress and can be cancelled.

import { KEY_RE, api, putRecordWithProgress, serverInfo } from './api.js';
import { formatBytes, formatNumber, h, replace, timeEl } from './dom.js';
import { button, dialog, emptyState, errorNotice, field, notice, spinner, toast } from './ui.js';
import { downloadBlob, downloadRecord, previewRecord } from './preview.js';

const PAGE_SIZES = [50, 100, 250, 1000];

const CONTENT_TYPES = [
    'application/json; charset=utf-8',
    'text/plain; charset=utf-8',
    'text/html; charset=utf-8',
    'text/csv; charset=utf-8',
    'application/xml',
];

/** A record key made from a file name: characters the API refuses become '-'. */
export function keyFromFileName(name) {
    const key = name.replace(/[^a-zA-Z0-9!\-_.'()]/g, '-').slice(0, 256);
    return key || 'file';
}

/** Why a value of SIZE bytes cannot be stored, or null: the server's limit (GET /health) is
 *  known before anything is sent. Resolves null when the limit cannot be learnt (the PUT then
 *  says so itself). */
async function sizeProblem(size) {
    let limit = 0;
    try {
        limit = (await serverInfo()).maxRecordSize || 0;
    } catch {
        return null;
    }
    if (!limit || size <= limit) return null;
    return `This is ${formatBytes(size)}: the server takes records of at most ${formatBytes(limit)} (${formatNumber(limit)} bytes; its administrator sets the limit with kvs serve --max-record-size).`;
}

/** A progress bar of an upload and its text ("12 MiB of 40 MiB · 30%"). */
function uploadProgress() {
    const bar = h('progress', { max: '1', value: '0', 'aria-label': 'Upload progress' });
    const text = h('span', { class: 'upload-text' }, 'Starting…');
    const el = h('div', { class: 'upload-progress', role: 'status' }, bar, text);
    return {
        el,
        update(sent, total) {
            bar.max = String(total || 1);
            bar.value = String(sent);
            const pct = total ? Math.floor((100 * sent) / total) : 0;
            text.textContent = sent >= total ? `Sent ${formatBytes(total)}; the server is storing it…` : `${formatBytes(sent)} of ${formatBytes(total)} · ${pct}%`;
        },
    };
}

function keyProblem(key) {
    if (!key) return 'Enter a key.';
    if (key.length > 256) return 'A key is at most 256 characters long.';
    if (!KEY_RE.test(key)) return 'A key may hold only letters, digits and ! - _ . \' ( )';
    return null;
}

/** The upload dialog for FILE; resolves with the key stored, or undefined. */
function uploadDialog(store, file) {
    const keyInput = h('input', { type: 'text', value: keyFromFileName(file.name), autocomplete: 'off', spellcheck: 'false', maxlength: '256' });
    const typeInput = h('input', { type: 'text', value: file.type || 'application/octet-stream', autocomplete: 'off', spellcheck: 'false', list: 'kvs-content-types' });
    const status = h('div');
    let uploading = null; // the AbortController of the upload under way
    let uploadBtn = null;
    sizeProblem(file.size).then((problem) => {
        if (!problem) return;
        replace(status, notice('error', h('strong', {}, 'Too large to upload. '), problem));
        if (uploadBtn) uploadBtn.disabled = true;
    });
    return dialog(
        'Upload a record',
        [
            h('p', { class: 'muted' }, `${file.name} · ${formatBytes(file.size)}`),
            field('Key', keyInput, { hint: 'Letters, digits and ! - _ . \' ( ), up to 256 characters.' }),
            field('Content type', typeInput, { hint: 'Stored with the record and sent back on every read.' }),
            h('datalist', { id: 'kvs-content-types' }, [...CONTENT_TYPES, 'image/png', 'image/jpeg', 'application/pdf', 'application/octet-stream'].map((t) => h('option', { value: t }))),
            status,
        ],
        (close) => [
            button('Cancel', () => {
                if (uploading) uploading.abort(); // the dialog closes when the upload has stopped
                else close();
            }),
            (uploadBtn = button(
                'Upload',
                async (e) => {
                    const btn = e.currentTarget;
                    const key = keyInput.value.trim();
                    const problem = keyProblem(key) || (await sizeProblem(file.size));
                    if (problem) {
                        replace(status, notice('error', problem));
                        if (keyProblem(key)) keyInput.focus();
                        return;
                    }
                    btn.disabled = true;
                    const progress = uploadProgress();
                    replace(status, progress.el);
                    uploading = new AbortController();
                    try {
                        await putRecordWithProgress(store.id, key, file, typeInput.value.trim() || 'application/octet-stream', progress.update, uploading.signal);
                        close(key);
                    } catch (err) {
                        btn.disabled = false;
                        if (err.name === 'AbortError') close();
                        else replace(status, errorNotice(err));
                    } finally {
                        uploading = null;
                    }
                },
                { kind: 'primary', type: 'submit' },
            )),
        ],
    );
}

/** The editor for a text or JSON record (new when KEY is empty); resolves with the key. */
export function editorDialog(store, { key = '', contentType = CONTENT_TYPES[0], text = '' } = {}) {
    const isNew = !key;
    const keyInput = h('input', { type: 'text', value: key, autocomplete: 'off', spellcheck: 'false', maxlength: '256', readonly: isNew ? null : true });
    const typeSel = h('select', {}, [...new Set([contentType, ...CONTENT_TYPES])].map((t) => h('option', { value: t, selected: t === contentType ? true : null }, t)));
    const area = h('textarea', { class: 'editor', rows: '14', spellcheck: 'false' });
    area.value = text;
    const status = h('div');
    const isJson = () => /^application\/(.+\+)?json/i.test(typeSel.value);
    const format = button('Format JSON', () => {
        try {
            area.value = JSON.stringify(JSON.parse(area.value), null, 2);
            replace(status);
        } catch (err) {
            replace(status, notice('error', `Not valid JSON: ${err.message}`));
        }
    }, { kind: 'ghost' });
    return dialog(
        isNew ? 'New record' : `Edit ${key}`,
        [
            h('div', { class: 'field-row' }, field('Key', keyInput), field('Content type', typeSel)),
            field('Value', area),
            h('div', { class: 'editor-tools' }, format),
            status,
        ],
        (close) => [
            button('Cancel', () => close()),
            button(
                'Save record',
                async (e) => {
                    const btn = e.currentTarget;
                    const k = keyInput.value.trim();
                    const problem = keyProblem(k);
                    if (problem) {
                        replace(status, notice('error', problem));
                        keyInput.focus();
                        return;
                    }
                    if (isJson()) {
                        try {
                            JSON.parse(area.value);
                        } catch (err) {
                            replace(status, notice('error', `The value is not valid JSON: ${err.message}`));
                            area.focus();
                            return;
                        }
                    }
                    const tooBig = await sizeProblem(new Blob([area.value]).size);
                    if (tooBig) {
                        replace(status, notice('error', tooBig));
                        return;
                    }
                    btn.disabled = true;
                    try {
                        await api.putRecord(store.id, k, area.value, typeSel.value);
                        close(k);
                    } catch (err) {
                        btn.disabled = false;
                        replace(status, errorNotice(err));
                    }
                },
                { kind: 'primary', type: 'submit' },
            ),
        ],
        { wide: true },
    );
}

export function recordsTab(ctx) {
    const store = ctx.store;
    const canWrite = ctx.rights.write;
    const q = ctx.query;
    const state = {
        prefix: q.get('prefix') || '',
        limit: PAGE_SIZES.includes(Number(q.get('limit'))) ? Number(q.get('limit')) : 100,
        starts: [null], // exclusiveStartKey of each page seen; the current page is the last
        page: null,
        selected: q.get('key') || null,
    };

    const listEl = h('div', { class: 'keys-body' });
    const previewEl = h('section', { class: 'card preview-card', 'aria-label': 'Record preview' });
    const fileInput = h('input', { type: 'file', class: 'offscreen', tabindex: '-1', 'aria-hidden': 'true' });

    function syncUrl() {
        const u = new URL(location.href);
        for (const [k, v] of [['prefix', state.prefix], ['key', state.selected], ['limit', state.limit === 100 ? null : state.limit]]) {
            if (v) u.searchParams.set(k, v);
            else u.searchParams.delete(k);
        }
        history.replaceState(null, '', u);
    }

    let loadSeq = 0;
    async function loadPage() {
        const seq = ++loadSeq;
        replace(listEl, spinner('Loading keys…'));
        try {
            const data = await api.listKeys(store.id, { limit: state.limit, prefix: state.prefix || undefined, exclusiveStartKey: state.starts[state.starts.length - 1] || undefined }, ctx.signal);
            if (seq !== loadSeq) return;
            state.page = data;
            drawList();
        } catch (err) {
            if (err.name !== 'AbortError' && seq === loadSeq) replace(listEl, errorNotice(err, loadPage));
        }
    }

    function select(key) {
        state.selected = key;
        syncUrl();
        for (const tr of listEl.querySelectorAll('tr[data-key]')) {
            const on = tr.dataset.key === key;
            tr.classList.toggle('selected', on);
            const b = tr.querySelector('button');
            if (b) b.setAttribute('aria-pressed', on ? 'true' : 'false');
        }
        showPreview();
    }

    function showPreview() {
        if (!state.selected) {
            replace(previewEl, emptyState('No record selected', 'Choose a key on the left to preview its record.'));
            return;
        }
        const item = state.page?.items.find((i) => i.key === state.selected);
        replace(
            previewEl,
            previewRecord({
                store,
                key: state.selected,
                item,
                signal: ctx.signal,
                actions: {
                    download: () => downloadRecord(store, state.selected),
                    edit: canWrite ? async (rec) => {
                        const k = await editorDialog(store, { key: state.selected, contentType: rec.contentType, text: rec.text });
                        if (k) {
                            toast(`Saved ${k}`);
                            await loadPage();
                            select(k);
                            ctx.refresh(); // the statistics: one write more
                        }
                    } : null,
                    remove: canWrite ? removeSelected : null,
                },
            }),
        );
    }

    async function removeSelected() {
        const key = state.selected;
        const ok = await dialog(
            'Delete record',
            h('p', {}, 'Delete the record ', h('strong', { class: 'mono' }, key), ` from ${store.name ? `“${store.name}”` : 'this store'}? This cannot be undone.`),
            (close) => [button('Cancel', () => close(false)), button('Delete record', () => close(true), { kind: 'danger', autofocus: true })],
        );
        if (!ok) return;
        try {
            await api.deleteRecord(store.id, key);
            toast(`Deleted ${key}`);
            state.selected = null;
            syncUrl();
            await loadPage();
            showPreview();
            ctx.refresh();
        } catch (err) {
            toast(err.message, 'error');
        }
    }

    function drawList() {
        const d = state.page;
        const pageNo = state.starts.length;
        if (d.items.length === 0) {
            replace(
                listEl,
                state.prefix
                    ? emptyState('No keys match', `No key starts with “${state.prefix}”${pageNo > 1 ? ' on this page' : ''}.`, button('Clear the filter', () => setPrefix('')))
                    : emptyState('This store is empty', canWrite ? 'Upload a file or create a record to add the first one.' : 'It holds no records yet.', canWrite ? button('Upload file', () => fileInput.click(), { kind: 'primary' }) : null),
            );
            return;
        }
        const rows = d.items.map((it) =>
            h(
                'tr',
                { 'data-key': it.key, class: it.key === state.selected ? 'selected' : null },
                h('td', { class: 'cell-key' }, h('button', { type: 'button', class: 'key-button', 'aria-pressed': it.key === state.selected ? 'true' : 'false', onclick: () => select(it.key) }, it.key)),
                h('td', { class: 'cell-type muted' }, (it.contentType || '').split(';')[0]),
                h('td', { class: 'num' }, formatBytes(it.size)),
                h('td', { class: 'num cell-modified muted' }, it.modifiedAt ? timeEl(it.modifiedAt) : '–'),
            ),
        );
        const sizeSel = h('select', { 'aria-label': 'Keys per page', class: 'select-small' }, PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === state.limit ? true : null }, `${n} / page`)));
        sizeSel.addEventListener('change', () => {
            state.limit = Number(sizeSel.value);
            state.starts = [null];
            syncUrl();
            loadPage();
        });
        const firstIndex = (pageNo - 1) * state.limit + 1;
        replace(
            listEl,
            h('div', { class: 'table-wrap' }, h('table', { class: 'table table-keys' }, h('caption', { class: 'sr-only' }, 'Keys'), h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col', class: 'num' }, 'Size'), h('th', { scope: 'col', class: 'num cell-modified' }, 'Modified'))), h('tbody', {}, rows))),
            h(
                'div',
                { class: 'pager' },
                h('span', { class: 'pager-info', 'data-testid': 'keys-range' }, `Page ${pageNo} · keys ${formatNumber(firstIndex)}–${formatNumber(firstIndex + d.count - 1)}${d.isTruncated ? '' : ' (last page)'}`),
                sizeSel,
                button('Previous', () => {
                    state.starts.pop();
                    loadPage();
                }, { disabled: pageNo === 1, 'aria-label': 'Previous page of keys' }),
                button('Next', () => {
                    state.starts.push(d.nextExclusiveStartKey);
                    loadPage();
                }, { disabled: !d.isTruncated, 'aria-label': 'Next page of keys' }),
            ),
        );
    }

    function setPrefix(p) {
        state.prefix = p;
        prefixInput.value = p;
        state.starts = [null];
        // a record the filter hides is no longer shown beside the list that hides it
        const hidden = state.selected && !state.selected.startsWith(p);
        if (hidden) state.selected = null;
        syncUrl();
        loadPage();
        if (hidden) showPreview();
        zipButton.textContent = p ? 'Download matching (ZIP)' : 'Download all (ZIP)';
    }

    /** Every record (whose key starts with the filter's prefix) as one ZIP archive: through the
     *  store's signed recordsPublicUrl when the user has it (streamed to disk by the browser),
     *  else fetched with the token. */
    async function downloadZip() {
        const name = `${store.name || store.id}.zip`; // as the server names it
        const signed = store.recordsPublicUrl && new URL(store.recordsPublicUrl).searchParams.has('signature');
        if (signed) {
            const u = new URL(store.recordsPublicUrl);
            if (state.prefix) u.searchParams.set('prefix', state.prefix);
            const a = h('a', { href: u.href, download: name, class: 'offscreen' });
            document.body.append(a);
            a.click();
            a.remove();
            return;
        }
        try {
            const res = await api.recordsZip(store.id, state.prefix || undefined);
            downloadBlob(await res.blob(), name);
        } catch (err) {
            toast(`Could not download the records: ${err.message}`, 'error');
        }
    }
    const zipButton = button(state.prefix ? 'Download matching (ZIP)' : 'Download all (ZIP)', downloadZip, { kind: 'secondary' });

    const prefixInput = h('input', { type: 'search', value: state.prefix, placeholder: 'Filter by key prefix', 'aria-label': 'Filter by key prefix', autocomplete: 'off', spellcheck: 'false' });
    let debounce = null;
    prefixInput.addEventListener('input', () => {
        clearTimeout(debounce);
        debounce = setTimeout(() => setPrefix(prefixInput.value), 300);
    });
    prefixInput.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') {
            clearTimeout(debounce);
            setPrefix(prefixInput.value);
        }
    });

    async function upload(file) {
        const key = await uploadDialog(store, file);
        if (!key) return;
        toast(`Uploaded ${key}`);
        state.selected = key;
        syncUrl();
        await loadPage();
        showPreview();
        ctx.refresh();
    }

    fileInput.addEventListener('change', () => {
        const f = fileInput.files[0];
        fileInput.value = '';
        if (f) upload(f);
    });

    const listCard = h(
        'section',
        { class: 'card keys-card', 'aria-label': 'Keys' },
        h(
            'div',
            { class: 'keys-toolbar' },
            prefixInput,
            zipButton,
            canWrite ? button('Upload file', () => fileInput.click(), { kind: 'secondary' }) : null,
            canWrite
                ? button('New record', async () => {
                      const k = await editorDialog(store);
                      if (k) {
                          toast(`Saved ${k}`);
                          state.selected = k;
                          syncUrl();
                          await loadPage();
                          showPreview();
                          ctx.refresh();
                      }
                  }, { kind: 'primary' })
                : null,
            fileInput,
        ),
        canWrite ? h('p', { class: 'drop-hint muted small' }, 'Drop a file here to upload it as a record.') : null,
        listEl,
    );

    if (canWrite) {
        let depth = 0;
        listCard.addEventListener('dragenter', (e) => {
            e.preventDefault();
            depth += 1;
            listCard.classList.add('dragging');
        });
        listCard.addEventListener('dragover', (e) => e.preventDefault());
        listCard.addEventListener('dragleave', () => {
            depth -= 1;
            if (depth <= 0) listCard.classList.remove('dragging');
        });
        listCard.addEventListener('drop', (e) => {
            e.preventDefault();
            depth = 0;
            listCard.classList.remove('dragging');
            const f = e.dataTransfer?.files?.[0];
            if (f) upload(f);
        });
    }

    loadPage();
    showPreview();
    return h('div', { class: 'records' }, listCard, previewEl);
}
