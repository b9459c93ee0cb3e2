import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { hasChromium, launchChromium, openPage, screenshot, type WatchedPage } from './browser.js';
import { ensureDashboardBuilt } from './global-setup.js';

async function selfStatus(server: TestServer, secret: string): Promise<number> {
  const response = await fetch(`${server.url}/accessTokens/self`, { headers: { Authorization: `Bearer ${secret}` } });
  await response.arrayBuffer();
  return response.status;
}

/** Every place a secret could linger after its dialog closed: markup, text, form values, storage. */
async function pageHolds(page: Page, secret: string): Promise<boolean> {
  const html = await page.content();
  const live = await page.evaluate(() => ({
    text: document.body.innerText,
    values: Array.from(document.querySelectorAll('input, textarea')).map((element) => (element as HTMLInputElement).value),
    storage: JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }),
  }));
  return html.includes(secret) || live.text.includes(secret) || live.values.some((value) => value.includes(secret)) || live.storage.includes(secret);
}

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe.skipIf(!hasChromium)('dashboard: workspace token and access tokens', () => {
  let server: TestServer;
  let browser: Browser;
  let watched: WatchedPage;

  beforeAll(async () => {
    await ensureDashboardBuilt();
    server = await startTestServer();
    browser = await launchChromium();
    watched = await openPage(browser, server.url);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('serves the dashboard at / with its assets, without shadowing the API', async () => {
    const index = await fetch(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const script = await fetch(`${server.url}${asset}`, { headers: { 'accept-encoding': 'br' } });
    expect(script.status).toBe(200);
    expect(script.headers.get('cache-control')).toContain('immutable');
    await script.arrayBuffer();
    // API paths still answer as the API: JSON envelopes, not the dashboard.
    for (const path of ['/accessTokens', '/auditLog', '/transformations', '/libraries']) {
      const api = await fetch(`${server.url}${path}`);
      expect(api.headers.get('content-type')).toContain('application/json');
      expect(((await api.json()) as { success: boolean }).success).toBe(false);
    }
    const missing = await fetch(`${server.url}/ui/assets/..%2f..%2fpackage.json`);
    expect(missing.status).toBe(404);
    await missing.arrayBuffer();
  });

  it('refuses a wrong token with a message and no session', async () => {
    const { page } = watched;
    await signIn(page, server.url, 'tlr_ws_not-a-real-token');
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('was not accepted');
    expect(await page.evaluate(() => sessionStorage.getItem('tiller.session'))).toBeNull();
    await screenshot(page, 'sign-in');
  });

  it('signs in with the workspace token and shows the empty state', async () => {
    const { page } = watched;
    await signIn(page, server.url, server.workspaceToken);
    await page.getByRole('heading', { name: 'Access tokens', exact: true }).waitFor();
    await page.getByText('No access tokens yet. Generate one to use the Transformations API.').waitFor();
    expect(page.url()).toContain('#/tokens');
  });

  it('generates a token, shows its secret once, lists it without the secret, and deletes it', async () => {
    const { page } = watched;
    await page.getByRole('button', { name: 'Generate your first token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Generate access token' });
    await dialog.getByLabel('Name').fill('ci-deploy');
    await dialog.getByLabel('Description (optional)').fill('GitHub Actions deploy job');
    await dialog.getByLabel('Expiry').selectOption('90');
    await screenshot(page, 'new-token-dialog');
    await dialog.getByRole('button', { name: 'Generate token' }).click();

    const reveal = page.getByRole('dialog', { name: 'Access token generated' });
    const secretField = reveal.getByTestId('new-secret');
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    expect(secret.length).toBeGreaterThan(20);
    await expect.poll(() => reveal.textContent()).toContain('will not show it again');
    await reveal.getByRole('button', { name: 'Copy token' }).waitFor();
    await screenshot(page, 'new-token-secret');
    await reveal.getByRole('button', { name: 'I have copied it' }).click();
    await reveal.waitFor({ state: 'hidden' });

    const row = page.locator('tr', { hasText: 'ci-deploy' });
    await row.waitFor();
    expect(await row.textContent()).toContain('GitHub Actions deploy job');
    expect(await pageHolds(page, secret)).toBe(false);
    await screenshot(page, 'tokens');

    // The secret works against the API (a stand-in for the curl call a user would make).
    expect(await selfStatus(server, secret)).toBe(200);

    await row.getByRole('button', { name: 'Delete ci-deploy' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete access token' });
    await confirm.getByRole('button', { name: 'Delete token' }).click();
    await confirm.waitFor({ state: 'hidden' });
    await page.getByText('No access tokens yet.', { exact: false }).waitFor();
    expect(await selfStatus(server, secret)).toBe(401);
  });

  it('closes dialogs with Escape and returns focus to the opener', async () => {
    const { page } = watched;
    const opener = page.getByRole('button', { name: 'Generate your first token' });
    await opener.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Generate access token' });
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    // Tab stays inside the modal.
    for (let i = 0; i < 12; i += 1) await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await opener.evaluate((element) => element === document.activeElement)).toBe(true);
  });

  it('deletes every token with a name after saying how many will go', async () => {
    const { page } = watched;
    const first = await server.issueAccessToken({ name: 'nightly-batch' });
    const second = await server.issueAccessToken({ name: 'nightly-batch' });
    await server.issueAccessToken({ name: 'keeper' });
    await page.reload();
    await page.locator('tr', { hasText: 'keeper' }).waitFor();
    await page.getByRole('button', { name: 'Delete by name…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete tokens by name' });
    await dialog.getByLabel('Token name').fill('nightly-batch');
    await expect.poll(() => dialog.textContent()).toContain('2 tokens named “nightly-batch” will be deleted');
    await dialog.getByRole('button', { name: 'Delete 2 tokens' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(() => page.locator('tr', { hasText: 'nightly-batch' }).count()).toBe(0);
    expect(await page.locator('tr', { hasText: 'keeper' }).count()).toBe(1);
    expect(await selfStatus(server, first.token)).toBe(401);
    expect(await selfStatus(server, second.token)).toBe(401);
  });

  it('rotates a token and shows the new secret once', async () => {
    const { page } = watched;
    const old = await server.issueAccessToken({ name: 'rotating-ci' });
    await page.reload();
    const row = page.locator('tr', { hasText: 'rotating-ci' });
    await row.getByRole('button', { name: 'Rotate rotating-ci' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate access token' });
    await dialog.getByLabel('Grace period for the old secret').selectOption('0');
    await dialog.getByRole('button', { name: 'Rotate token' }).click();
    const reveal = page.getByRole('dialog', { name: 'New secret issued' });
    const fresh = await reveal.getByTestId('new-secret').inputValue();
    expect(fresh).not.toBe(old.token);
    expect(await reveal.getByTestId('old-secret-note').innerText()).toContain('has stopped working');
    await reveal.getByRole('button', { name: 'I have copied it' }).click();
    await reveal.waitFor({ state: 'hidden' });
    expect(await pageHolds(page, fresh)).toBe(false);
    expect(await selfStatus(server, fresh)).toBe(200);
    expect(await selfStatus(server, old.token)).toBe(401);
  });

  it('says when the old secret stops working after a rotation with a grace period', async () => {
    const { page } = watched;
    const old = await server.issueAccessToken({ name: 'graceful-ci', expiresInDays: 45 });
    await page.reload();
    await page.getByRole('button', { name: 'Rotate graceful-ci' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate access token' });
    await dialog.getByLabel('Grace period for the old secret').selectOption('3600');
    await dialog.getByRole('button', { name: 'Rotate token' }).click();
    const reveal = page.getByRole('dialog', { name: 'New secret issued' });
    const note = reveal.getByTestId('old-secret-note');
    expect(await note.innerText()).toContain('keeps working for its grace period of 1 hour, until ');
    const stopsAt = Date.parse((await note.locator('time').getAttribute('datetime')) ?? '');
    expect(Math.abs(stopsAt - (Date.now() + 3600_000))).toBeLessThan(60_000);
    await reveal.getByRole('button', { name: 'I have copied it' }).click();
    await reveal.waitFor({ state: 'hidden' });

    // The old secret's row no longer claims its 45-day expiry, and cannot be rotated again.
    const oldRow = page.locator('tr', { hasText: 'graceful-ci' }).filter({ hasText: 'rotating' });
    // The server's end of the grace period, about an hour away; not the token's own expiry in 45 days.
    const expires = oldRow.locator('td[data-label="Expires"]');
    expect(await expires.innerText()).toMatch(/^in (59 minutes|60 minutes|1 hour) \(grace period\)$/);
    expect(await oldRow.getByRole('button', { name: 'Rotate graceful-ci' }).isDisabled()).toBe(true);
    expect(await selfStatus(server, old.token)).toBe(200);
  });

  it('sorts the token table by a column', async () => {
    const { page } = watched;
    const header = page.getByRole('columnheader', { name: /Name/ });
    await header.getByRole('button').click();
    expect(await header.getAttribute('aria-sort')).toBe('ascending');
    const names = await page.locator('tbody td.primary-cell').allTextContents();
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    await header.getByRole('button').click();
    expect(await header.getAttribute('aria-sort')).toBe('descending');
  });

  it('shows the audit log, filterable by action, outcome and text', async () => {
    const { page } = watched;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const rows = page.locator('table[aria-label="Audit events"] tbody tr');
    await expect.poll(() => rows.count()).toBeGreaterThan(4);
    const all = await rows.count();

    const actionOptions = await page.getByLabel('Action').locator('option').allTextContents();
    const createAction = actionOptions.find((option) => /create|issue|generate/i.test(option) && /token/i.test(option));
    expect(createAction).toBeDefined();
    await page.getByLabel('Action').selectOption(createAction!);
    const filtered = await rows.count();
    expect(filtered).toBeGreaterThan(0);
    expect(filtered).toBeLessThan(all);
    for (const text of await rows.locator('td[data-label="Action"]').allTextContents()) expect(text).toBe(createAction);
    await page.getByLabel('Action').selectOption('');

    await page.getByLabel('Search').fill('no-such-thing-anywhere');
    await page.getByText('No loaded event matches these filters.').waitFor();
    await page.getByLabel('Search').fill('');
    await screenshot(page, 'audit-log');
  });

  it('names targets and actors in the audit log, deleted tokens included, and finds events by name', async () => {
    const { page } = watched;
    const issued = await server.issueAccessToken({ name: 'audited-in-browser', scopes: ['read', 'write'] });
    await fetch(`${server.url}/transformations?publish=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${issued.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'named-in-the-log', code: 'export function transformEvent(e) { return e; }' }),
    });
    expect((await fetch(`${server.url}/accessTokens/${issued.id}`, { method: 'DELETE', headers: { authorization: server.workspaceAuth } })).status).toBe(200);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Access tokens' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    const rows = page.locator('table[aria-label="Audit events"] tbody tr');
    await page.getByLabel('Search').fill('audited-in-browser');
    // Created and deleted (target: the token), and the transformation it created (actor: the token).
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(3);
    const targets = await rows.locator('td[data-label="Target"]').allTextContents();
    expect(targets.filter((t) => t.includes('audited-in-browser'))).toHaveLength(2);
    expect(targets.some((t) => t.includes('named-in-the-log'))).toBe(true);
    const actors = await rows.locator('td[data-label="Actor"]').allTextContents();
    expect(actors.some((a) => a.includes('token “audited-in-browser”'))).toBe(true);
    await page.getByLabel('Search').fill('');
  });

  it('fits a 390 px wide screen', async () => {
    const narrow = await openPage(browser, server.url, 390, 844);
    try {
      await signIn(narrow.page, server.url, server.workspaceToken);
      await narrow.page.locator('tr', { hasText: 'keeper' }).waitFor();
      const overflow = await narrow.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(narrow.page, 'tokens');
      expect(narrow.problems).toEqual([]);
    } finally {
      await narrow.context.close();
    }
  });

  it('accepts a workspace token and an access token together and offers every screen', async () => {
    const both = await openPage(browser, server.url);
    try {
      const access = await server.issueAccessToken({ name: 'both-kinds' });
      await both.page.goto(`${server.url}/`);
      await both.page.getByRole('button', { name: 'I have both a workspace token and an access token' }).click();
      // Order does not matter: Tiller tells the kinds apart.
      await both.page.getByLabel('Token', { exact: true }).fill(access.token);
      await both.page.getByLabel('Second token (optional)').fill(server.workspaceToken);
      await both.page.getByRole('button', { name: 'Sign in' }).click();
      const nav = both.page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Transformations' }).waitFor();
      for (const name of ['Libraries', 'Access tokens', 'Audit log']) expect(await nav.getByRole('link', { name }).count()).toBe(1);
      await nav.getByRole('link', { name: 'Access tokens' }).click();
      await both.page.locator('tr', { hasText: 'both-kinds' }).waitFor();

      // Signing out forgets both.
      await both.page.getByRole('button', { name: 'Sign out' }).click();
      await both.page.getByRole('heading', { name: 'Sign in to Tiller' }).waitFor();
      expect(await both.page.evaluate(() => sessionStorage.length)).toBe(0);
      expect(both.problems).toEqual([]);
    } finally {
      await both.context.close();
    }
  });

  it('makes no request to another host and logs no errors', () => {
    expect(watched.foreignRequests).toEqual([]);
    expect(watched.problems).toEqual([]);
  });
});
