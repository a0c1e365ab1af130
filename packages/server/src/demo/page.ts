import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { sendText } from '../api/http.js';

/** Serves `/demo` (the page) and `/demo/centrifuge.js` (the SDK's browser build). */
export function serveDemo(path: string, res: ServerResponse): void {
  if (path === '/demo') return sendText(res, 200, demoPage, { 'content-type': 'text/html; charset=utf-8' });
  const bundle = sdkBundlePath();
  if (bundle === undefined) return sendText(res, 404, 'install the centrifuge package to serve the demo SDK');
  readFile(bundle).then(
    (js) => {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'content-length': js.length });
      res.end(js);
    },
    () => sendText(res, 404, 'centrifuge browser bundle not found'),
  );
}

/** The browser build of the `centrifuge` SDK, if the package is installed (it is an optional peer). */
function sdkBundlePath(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('centrifuge')), '..', 'dist', 'centrifuge.js');
  } catch {
    return undefined;
  }
}

/**
 * A one-file demo: connects with the token from the URL fragment (`/demo#token=…`),
 * subscribes to a channel and shows what arrives; can publish where the channel allows.
 */
const demoPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Fleetgate demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; }
  h1 { font-size: 1.3rem; } code { background: #eef1f6; padding: 0 .25rem; border-radius: 3px; }
  form { display: flex; gap: .5rem; margin: .75rem 0; } input { flex: 1; padding: .4rem; } button { padding: .4rem .8rem; }
  #state { font-weight: 600; } #log { list-style: none; padding: 0; border-top: 1px solid #dde2ea; }
  #log li { padding: .35rem 0; border-bottom: 1px solid #eef1f6; font-family: ui-monospace, monospace; font-size: 13px; }
</style>
</head>
<body>
<h1>Fleetgate demo</h1>
<p>Connection: <span id="state">disconnected</span> <span id="client"></span></p>
<form id="sub"><input id="channel" value="news" aria-label="channel"><button>Subscribe</button></form>
<form id="pub"><input id="text" placeholder="message to publish" aria-label="message"><button>Publish</button></form>
<p>Or publish from your backend with the <code>curl</code> line printed by <code>npm start</code>.</p>
<ul id="log"></ul>
<script src="/demo/centrifuge.js"></script>
<script>
  const $ = (id) => document.getElementById(id);
  const log = (text) => { const li = document.createElement('li'); li.textContent = new Date().toLocaleTimeString() + '  ' + text; $('log').prepend(li); };
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const client = new Centrifuge(scheme + '://' + location.host + '/connection/websocket', { token });
  client.on('state', (ctx) => { $('state').textContent = ctx.newState; });
  client.on('connected', (ctx) => { $('client').textContent = '(client ' + ctx.client + ')'; });
  client.on('disconnected', (ctx) => log('disconnected: ' + ctx.code + ' ' + ctx.reason));
  client.on('error', (ctx) => log('error: ' + JSON.stringify(ctx.error)));
  let sub = null;
  function subscribe(channel) {
    if (sub) { sub.unsubscribe(); client.removeSubscription(sub); }
    sub = client.newSubscription(channel);
    sub.on('subscribed', () => log('subscribed to ' + channel));
    sub.on('error', (ctx) => log('subscription error: ' + ctx.error.message));
    sub.on('unsubscribed', (ctx) => log('unsubscribed: ' + ctx.code + ' ' + ctx.reason));
    sub.on('publication', (ctx) => log(channel + ': ' + JSON.stringify(ctx.data)));
    sub.subscribe();
  }
  $('sub').onsubmit = (e) => { e.preventDefault(); subscribe($('channel').value); };
  $('pub').onsubmit = (e) => {
    e.preventDefault();
    if (!sub) return log('subscribe first');
    sub.publish({ text: $('text').value }).then(() => { $('text').value = ''; }, (err) => log('publish failed: ' + err.message));
  };
  if (!token) log('no token in the URL: open the link printed by npm start');
  client.connect();
  subscribe($('channel').value);
</script>
</body>
</html>
`;
