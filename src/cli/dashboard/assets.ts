/**
 * The page and its assets, served from the package (`dist/web/`, made by `npm run build`): no CDN, works
 * offline. Security headers on every answer: the page loads only its own script and style.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `dist/web/` of the package: src/cli/dashboard and dist/cli/dashboard are both three folders down. */
export const DEFAULT_ASSETS = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

export const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** True when the built page is in `dir`. */
export function assetsBuilt(dir = DEFAULT_ASSETS): boolean {
  return existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'app.js'));
}

const cache = new Map<string, Buffer>();

export function serveAsset(
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  dir = DEFAULT_ASSETS,
): void {
  const entry = FILES[path];
  if (!entry) {
    res.writeHead(404, { 'content-type': 'text/plain', ...SECURITY_HEADERS });
    res.end('not found\n');
    return;
  }
  const file = join(dir, entry.file);
  let body = cache.get(file);
  if (!body) {
    try {
      body = readFileSync(file);
    } catch {
      res.writeHead(503, { 'content-type': 'text/plain', ...SECURITY_HEADERS });
      res.end(`the dashboard page is not built (${file} missing): run npm run build\n`);
      return;
    }
    cache.set(file, body);
  }
  res.writeHead(200, { 'content-type': entry.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS });
  res.end(req.method === 'HEAD' ? undefined : body);
}
