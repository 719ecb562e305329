// What isomorphic-git gets for `require('pako')` in the device bundle: pako, with its whole-buffer
// deflate and inflate done by node:zlib. isomorphic-git deflates every object it writes (twice on
// a push: loose object, then packfile) and inflates every object it reads; pako does it in
// JavaScript, which the agent runs interpreted (no JIT, to save memory), and re-zeroes a 64 KiB
// window per object. Same format (zlib, level 6); object ids hash the uncompressed bytes.
// pako's streaming Inflate (packfile parsing on fetch) stays as it is.
'use strict';
const zlib = require('node:zlib');
const pako = require('pako');

/** pako throws its error message as a string; isomorphic-git turns that into DecompressionError. */
function asPakoError(e) {
  return e instanceof Error ? e.message : String(e);
}

module.exports = {
  ...pako,
  deflate(data) {
    return zlib.deflateSync(data);
  },
  inflate(data) {
    try {
      return zlib.inflateSync(data);
    } catch (e) {
      throw asPakoError(e);
    }
  },
};
