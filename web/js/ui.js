// ui.js — the console's small set of controls: buttons, fields, notices, empty states,
// dialogs, toasts, copy buttons, tabs. Every control is a native element with a visible label
// or an aria-label, so the console works from the keyboard and with a screen reader.

import { h, uid } from './dom.js';

/** A button. kind: 'primary' | 'secondary' | 'danger' | 'ghost'. */
export function button(label, onclick, { kind = 'secondary', type = 'button', ...props } = {}) {
    return h('button', { type, class: `btn btn-${kind}`, onclick, ...props }, label);
}

/** A labelled field around CONTROL (an input, select or textarea); returns the wrapper. */
export function field(label, control, { hint, id = control.id || uid('f') } = {}) {
    control.id = id;
    const hintEl = hint ? h('p', { class: 'field-hint', id: `${id}-hint` }, hint) : null;
    if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
    return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** An inline error or information notice. kind: 'error' | 'info' | 'success' | 'warning'. */
export function notice(kind, ...content) {
    return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...content);
}

/** An ApiError (or any error) as a readable notice with a retry button when RETRY is given. */
export function errorNotice(err, retry) {
    const title = err.status === 0 ? 'Cannot reach the server' : err.status === 403 ? 'Not allowed' : err.status === 404 ? 'Not found' : 'Something went wrong';
    return notice(
        'error',
        h('strong', {}, title),
        h('span', {}, ` ${err.message}`),
        retry ? h('span', { class: 'notice-actions' }, button('Try again', retry)) : null,
    );
}

/** A friendly empty state: title, text, and optional actions. */
export function emptyState(title, text, ...actions) {
    return h(
        'div',
        { class: 'empty' },
        h('div', { class: 'empty-art', 'aria-hidden': 'true' }),
        h('h3', {}, title),
        text ? h('p', {}, text) : null,
        actions.length ? h('div', { class: 'empty-actions' }, ...actions) : null,
    );
}

export function spinner(label = 'Loading…') {
    return h('div', { class: 'spinner-row', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), label);
}

// ---- toasts ----------------------------------------------------------------------------

let toastHost = null;

/** A short message in the corner that goes away by itself. */
export function toast(message, kind = 'success') {
    if (!toastHost || !toastHost.isConnected) {
        toastHost = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
        document.body.append(toastHost);
    }
    const t = h('div', { class: `toast toast-${kind}` }, message);
    toastHost.append(t);
    setTimeout(() => t.remove(), 4000);
}

// ---- copying -----------------------------------------------------------------------------

async function copyText(text) {
    try {
        await navigator.clipboard.writeText(text);
        return true;
    } catch {
        // not a secure context, or no permission: select a temporary field instead
        const ta = h('textarea', { class: 'offscreen', readonly: true }, text);
        document.body.append(ta);
        ta.select();
        let ok = false;
        try {
            ok = document.execCommand('copy');
        } catch {
            ok = false;
        }
        ta.remove();
        return ok;
    }
}

/** A button that copies TEXT (a string or a function returning one). */
export function copyButton(text, label = 'Copy', what = 'Copied') {
    const btn = button(label, async () => {
        const ok = await copyText(typeof text === 'function' ? text() : text);
        toast(ok ? `${what} to the clipboard` : 'Could not copy: select the text and copy it by hand', ok ? 'success' : 'error');
    }, { kind: 'ghost', class: 'btn btn-ghost btn-small' });
    return btn;
}

/** Monospace text with a copy button beside it. */
export function copyable(text, { label = 'Copy', what = 'Copied', cls = '' } = {}) {
    return h('span', { class: `copyable ${cls}` }, h('code', {}, text), copyButton(text, label, what));
}

/** A code block with a copy button. */
export function codeBlock(code, label) {
    return h(
        'div',
        { class: 'code-block' },
        h('div', { class: 'code-head' }, h('span', {}, label), copyButton(code, 'Copy', `${label} copied`)),
        h('pre', {}, h('code', {}, code)),
    );
}

// ---- dialogs -----------------------------------------------------------------------------

/**
 * A modal dialog (native <dialog>: focus stays inside, Esc closes). BODY is content; ACTIONS
 * builds the footer buttons from close(value). Resolves with the value passed to close, or
 * undefined when dismissed.
 */
export function dialog(title, body, actions, { wide = false } = {}) {
    return new Promise((resolve) => {
        const titleId = uid('dlg');
        let result;
        const dlg = h('dialog', { class: `dialog${wide ? ' dialog-wide' : ''}`, 'aria-labelledby': titleId });
        const close = (value) => {
            result = value;
            dlg.close();
        };
        const form = h(
            'form',
            { class: 'dialog-form', method: 'dialog', novalidate: true },
            h('header', { class: 'dialog-head' }, h('h2', { id: titleId }, title)),
            h('div', { class: 'dialog-body' }, body),
            h('footer', { class: 'dialog-foot' }, actions(close)),
        );
        form.addEventListener('submit', (e) => e.preventDefault());
        dlg.append(form);
        dlg.addEventListener('close', () => {
            dlg.remove();
            resolve(result);
        });
        document.body.append(dlg);
        dlg.showModal();
        const first = dlg.querySelector('[autofocus], input, select, textarea');
        if (first) first.focus();
    });
}

/** Asks to confirm something; resolves true when confirmed. */
export function confirmDialog(title, text, confirmLabel, { danger = true } = {}) {
    return dialog(title, h('p', {}, text), (close) => [
        button('Cancel', () => close(false)),
        button(confirmLabel, () => close(true), { kind: danger ? 'danger' : 'primary', autofocus: true }),
    ]).then(Boolean);
}

// ---- tabs --------------------------------------------------------------------------------

/** A row of links that act as tabs; ITEMS: [{label, href, current}], NAV: navigate(href). */
export function tabs(items, nav, label) {
    return h(
        'nav',
        { class: 'tabs', 'aria-label': label },
        items.map((t) =>
            h(
                'a',
                {
                    href: t.href,
                    class: `tab${t.current ? ' tab-current' : ''}`,
                    'aria-current': t.current ? 'page' : null,
                    onclick: (e) => nav(e, t.href),
                },
                t.label,
            ),
        ),
    );
}
