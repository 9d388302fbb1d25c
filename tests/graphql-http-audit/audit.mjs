// Runs the graphql-http server audit (GraphQL over HTTP conformance) against a
// running CareLedger: `node audit.mjs <url> <bearer token>`. Prints one line per
// audit that is not ok, then a summary line `MUST failures: N, SHOULD warnings: N,
// notices: N, ok: N`. Exit code 0 whatever the result: the Rust test judges it.
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node audit.mjs <url> <bearer token>');
  process.exit(2);
}
// Every request carries the token (CareLedger answers nothing without one).
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
const count = (s) => results.filter((r) => r.status === s).length;
for (const r of results) {
  if (r.status !== 'ok') {
    console.log(`${r.status.toUpperCase()} ${r.id} ${r.name}: ${r.reason}`);
  }
}
console.log(
  `MUST failures: ${count('error')}, SHOULD warnings: ${count('warn')}, notices: ${count('notice')}, ok: ${count('ok')}`,
);
