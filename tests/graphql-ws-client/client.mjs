// A real graphql-transport-ws client for CareLedger's end-to-end tests: the
// `graphql-ws` package (the protocol's reference client) over `ws`.
// One JSON line on stdout per thing that happens; the Rust test reads them.
//
//   node client.mjs subscribe <url> <credential> <query> <variables-json> <count>
//     graphql-ws's createClient (no retries): prints {"next": payload} for each
//     result, then {"done": n} after <count> of them; {"closed": code, "reason"}
//     or {"error": ...} if the server refuses or ends it first.
//
//   node client.mjs raw <url> - <steps-json>
//     The protocol by hand (ws only), for what a library hides: steps are
//     {"send": message} | {"text": string} | {"wait": ms} | {"pause": ms}
//     (stop reading the socket: a slow consumer) | {"until": n} (wait for n
//     messages) ; prints {"message": m, "text": the message as sent} for each
//     message received and
//     {"closed": code, "reason"} when the server closes.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const [mode, url, credential, ...rest] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (mode === 'subscribe') {
  const [query, variables, countText] = rest;
  const count = Number(countText);
  let n = 0;
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: { authorization: `Bearer ${credential}` },
    on: {
      connected: () => out({ connected: true }),
      closed: (e) => out({ closed: e.code, reason: e.reason }),
    },
    onNonLazyError: (e) => {
      out({ error: String(e && e.code ? `close ${e.code}` : e) });
      process.exit(1);
    },
  });
  client.subscribe(
    { query, variables: JSON.parse(variables) },
    {
      next: (payload) => {
        out({ next: payload });
        n += 1;
        if (n === count) {
          out({ done: n });
          client.dispose();
          setTimeout(() => process.exit(0), 50);
        }
      },
      error: (e) => {
        out({ error: Array.isArray(e) ? e : e && e.code ? `close ${e.code}` : String(e) });
        setTimeout(() => process.exit(1), 50);
      },
      complete: () => {
        out({ complete: true });
        setTimeout(() => process.exit(0), 50);
      },
    },
  );
} else if (mode === 'raw') {
  const steps = JSON.parse(rest[0]);
  const ws = new WebSocket(url, 'graphql-transport-ws');
  let received = 0;
  let closed = false;
  ws.on('message', (data) => {
    received += 1;
    out({ message: JSON.parse(data.toString()), text: data.toString() });
  });
  ws.on('close', (code, reason) => {
    closed = true;
    out({ closed: code, reason: reason.toString() });
    process.exit(0);
  });
  ws.on('unexpected-response', (_req, res) => {
    out({ status: res.statusCode });
    process.exit(0);
  });
  ws.on('error', (e) => out({ error: String(e) }));
  ws.on('open', async () => {
    for (const step of steps) {
      if (closed) return;
      if (step.send !== undefined) ws.send(JSON.stringify(step.send));
      else if (step.text !== undefined) ws.send(step.text);
      else if (step.wait !== undefined) await sleep(step.wait);
      else if (step.pause !== undefined) {
        ws.pause();
        await sleep(step.pause);
        ws.resume();
      } else if (step.until !== undefined) {
        while (received < step.until && !closed) await sleep(10);
      }
    }
    await sleep(300);
    ws.close(1000);
  });
} else {
  console.error('usage: client.mjs subscribe|raw …');
  process.exit(2);
}
