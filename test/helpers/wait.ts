/** Kept for existing imports: the waits live in ./async.ts with the other async helpers. */
export { waitFor } from './async.js';
