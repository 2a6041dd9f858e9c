// app.js — the console's entry point: who is signed in, the page frame, and routing.
//
// URLs (all served the same page by kvs, so a reload or a shared link opens the right view):
//   /console/                      key-value stores (also what / shows)
//   /console/stores/{id}           a store's records; ?key=K selects a record, ?prefix=P filters
//   /console/stores/{id}/settings  rename, general access, sharing, delete
//   /console/stores/{id}/api       endpoints, snippets and signed links
//   /console/account               the signed-in user's own settings (default general access)
//   /console/runs                  Actor runs (?status=, ?offset=, ?limit=)
//   /console/runs/{id}[/input]     a run: its Output (or Input) record, status, Abort
//   /console/admin/users           users (admins only)
//   /console/admin/tokens          API tokens (admins only)

import { api, clearToken, getToken, setToken, setUnauthorizedHandler } from './api.js';
import { h, replace } from './dom.js';
import { button, errorNotice, field, notice, spinner } from './ui.js';
import { storesPage } from './stores.js';
import { storePage } from './store.js';
import { tokensPage, usersPage } from './admin.js';
import { accountPage } from './account.js';
import { scopeSummary, withTokenRights } from './model.js';
import { runPage, runsPage } from './runs.js';

const app = document.getElementById('app');
let me = null; // the signed-in user: { id, username, isAdmin, ... }
let pageController = null; // aborts the previous page's requests on navigation

/** Goes to PATH (a console URL) without reloading; EVENT is a click to honour modifiers. */
/** Signs the user out: their token no longer works (revoked, or their user deleted). */
function signOutNow(message) {
    history.replaceState(null, '', '/console/');
    signOut(message);
}

export function navigate(path, event, { replace: replaceState = false } = {}) {
    if (event) {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
    }
    if (replaceState) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    render();
}

/** An in-app link. */
export function link(href, ...children) {
    return h('a', { href, onclick: (e) => navigate(href, e) }, ...children);
}

function signOut(message) {
    clearToken();
    me = null;
    render(message);
}

/** Sign out by the user: the next one to sign in starts from the store list. */
function signOutByUser() {
    history.replaceState(null, '', '/console/');
    signOut();
}

// ---- sign in -----------------------------------------------------------------------------

function signInPage(message) {
    document.title = 'Sign in · kvstore';
    const input = h('input', {
        type: 'password',
        name: 'token',
        autocomplete: 'off',
        spellcheck: 'false',
        required: true,
        placeholder: 'kvs_…',
    });
    const status = h('div', { class: 'signin-status' }, message ? notice('warning', message) : null);
    const submit = button('Sign in', null, { kind: 'primary', type: 'submit', class: 'btn btn-primary btn-block' });
    const form = h(
        'form',
        { class: 'signin-form', novalidate: true },
        field('API token', input, {
            hint: 'kvs serve prints the admin’s token on its first start; an admin can create users and tokens. The token stays in this browser tab only.',
        }),
        h('p', { class: 'field-hint signin-lost' }, 'Lost the admin’s token? On the server, ', h('code', {}, 'kvs token create admin --data DIR'), ' makes a new one (DIR: the data directory of kvs serve).'),
        status,
        submit,
    );
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const token = input.value.trim();
        if (!token) {
            replace(status, notice('error', 'Enter an API token.'));
            input.focus();
            return;
        }
        submit.disabled = true;
        replace(status, spinner('Checking the token…'));
        try {
            me = withTokenRights(await api.me(token));
            setToken(token);
            render();
        } catch (err) {
            const text =
                err.status === 401
                    ? 'That token was not accepted. Check that you copied the whole token and that it has not been revoked.'
                    : err.message;
            replace(status, notice('error', h('strong', {}, 'Sign-in failed. '), text));
            submit.disabled = false;
            input.select();
        }
    });
    replace(
        app,
        h(
            'main',
            { id: 'main', class: 'signin', tabindex: '-1' },
            h(
                'div',
                { class: 'signin-card' },
                h('div', { class: 'brand brand-large' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'kvstore'),
                h('h1', {}, 'Sign in to the console'),
                h('p', { class: 'muted' }, 'Browse, preview and manage your key-value stores.'),
                form,
            ),
        ),
    );
    input.focus();
}

// ---- the frame ---------------------------------------------------------------------------

function header(section) {
    const navItem = (href, label, key) =>
        h('a', { href, class: `nav-link${section === key ? ' nav-current' : ''}`, 'aria-current': section === key ? 'page' : null, onclick: (e) => navigate(href, e) }, label);
    return h(
        'header',
        { class: 'topbar' },
        h(
            'div',
            { class: 'topbar-inner' },
            h('a', { href: '/console/', class: 'brand', onclick: (e) => navigate('/console/', e) }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'kvstore'),
            h(
                'nav',
                { class: 'nav', 'aria-label': 'Main' },
                navItem('/console/', 'Key-value stores', 'stores'),
                navItem('/console/runs', 'Runs', 'runs'),
                me.isAdmin ? navItem('/console/admin/users', 'Users', 'users') : null,
                me.isAdmin ? navItem('/console/admin/tokens', 'API tokens', 'tokens') : null,
            ),
            h(
                'div',
                { class: 'account' },
                h('a', { href: '/console/account', class: `account-name${section === 'account' ? ' nav-current' : ''}`, title: `Signed in as ${me.username}: your account`, 'aria-current': section === 'account' ? 'page' : null, onclick: (e) => navigate('/console/account', e) }, h('span', { class: 'avatar', 'aria-hidden': 'true' }, me.username.slice(0, 1).toUpperCase()), h('span', { class: 'account-label' }, me.username), me.isAdmin ? h('span', { class: 'badge' }, 'admin') : null, me.scope ? h('span', { class: 'badge', title: `This token: ${scopeSummary(me.scope, me.username)}` }, 'limited token') : null),
                button('Sign out', signOutByUser, { kind: 'ghost' }),
            ),
        ),
    );
}

function notFound(ctx) {
    document.title = 'Not found · kvstore';
    return h('div', { class: 'page' }, h('h1', {}, 'Page not found'), h('p', {}, 'There is nothing at this address. '), link('/console/', 'Go to your key-value stores'));
}

function route(path) {
    const p = path.replace(/\/+$/, '') || '/';
    if (p === '/' || p === '/console') return { section: 'stores', page: storesPage };
    let m = p.match(/^\/console\/stores\/([^/]+)(?:\/(settings|api))?$/);
    if (m) return { section: 'stores', page: storePage, params: { id: decodeURIComponent(m[1]), tab: m[2] || 'records' } };
    if (p === '/console/account') return { section: 'account', page: accountPage };
    if (p === '/console/runs') return { section: 'runs', page: runsPage };
    m = p.match(/^\/console\/runs\/([^/]+)(?:\/(input))?$/);
    if (m) return { section: 'runs', page: runPage, params: { id: decodeURIComponent(m[1]), tab: m[2] || 'output' } };
    m = p.match(/^\/console\/admin\/(users|tokens)$/);
    if (m) return { section: m[1], page: m[1] === 'users' ? usersPage : tokensPage };
    return { section: null, page: notFound };
}

/** Draws the current URL's page (or the sign-in form). */
async function render(message) {
    if (pageController) pageController.abort();
    pageController = new AbortController();
    if (!getToken()) {
        signInPage(message);
        return;
    }
    if (!me) {
        replace(app, h('main', { id: 'main', class: 'main' }, spinner('Signing in…')));
        try {
            me = withTokenRights(await api.me());
        } catch (err) {
            if (err.status === 401) return; // the unauthorized handler signed out
            replace(app, h('main', { id: 'main', class: 'main' }, h('div', { class: 'page' }, errorNotice(err, () => render()))));
            return;
        }
    }
    const { section, page, params = {} } = route(location.pathname);
    const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
    replace(app, header(section), main);
    const ctx = {
        me,
        params,
        query: new URLSearchParams(location.search),
        signal: pageController.signal,
        navigate,
        link,
        main,
        signOut: signOutNow,
    };
    const content = await page(ctx);
    if (content && !ctx.signal.aborted) replace(main, content);
}

setUnauthorizedHandler(() => signOut('Your session has ended: the token is no longer valid. Sign in again.'));
window.addEventListener('popstate', () => render());
render();
