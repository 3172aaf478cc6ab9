/**
 * Headless Chromium for the dashboard's browser tests, the screenshot and the bench: Debian's `chromium`
 * package driven by playwright-core (which downloads no browser of its own). `npm test` installs the
 * package when it is missing (scripts/test.ts); here a missing browser is an error naming it, never a skip.
 */
import { execFileSync } from 'node:child_process';
import { type Browser, chromium, type Page } from 'playwright-core';

/** The Chromium executable, or a clear error naming the Debian package. */
export function chromiumBinary(): string {
  const candidates = [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
    Boolean,
  ) as string[];
  for (const c of candidates) {
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return c;
    } catch {
      // try the next candidate
    }
  }
  throw new Error(
    "chromium is not installed: install the Debian package 'chromium' (apt-get install chromium) " +
      'or set CHROMIUM_BIN to a Chromium executable',
  );
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumBinary(),
    headless: true,
    // Root in a container has no user namespace for the sandbox; the pages are our own, on loopback.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** Records the page's console errors and uncaught exceptions, for a "no console errors" check. */
export function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return errors;
}
