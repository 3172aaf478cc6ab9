/** escheduler's version, published in `/<root>/node/<worker>` (a test pins it to package.json's). */
export const VERSION = '0.1.0';
