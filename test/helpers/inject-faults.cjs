// Preloaded into a real `cortex-hub serve` (NODE_OPTIONS=--require) by
// test/integration/safety-net.test.ts: once the hub serves (hub.json written), one unhandled
// rejection and one uncaught exception, as a bug that slipped past every handler would cause.
const fs = require('node:fs');
const path = require('node:path');

const hubJson = path.join(process.env.CORTEX_FAULT_DATA, 'hub.json');
const poll = setInterval(() => {
  if (!fs.existsSync(hubJson)) return;
  clearInterval(poll);
  setTimeout(() => {
    Promise.reject(new Error('injected rejection'));
    setTimeout(() => {
      throw new Error('injected exception');
    }, 20);
  }, 50);
}, 20);
