/** jsdom has no TextEncoder/TextDecoder; React Router needs them. Node's are the standard ones. */
const { TextDecoder, TextEncoder } = require('node:util');

Object.assign(globalThis, { TextEncoder, TextDecoder });
