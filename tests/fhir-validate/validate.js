// Validates FHIR R4 resources with FHIR.js (the npm `fhir` package: R4
// structure definitions and value sets). Reads one JSON resource per line on
// stdin; prints one JSON line per resource ({id, valid, messages}) and exits 1
// when any resource has an error.
const { Fhir } = require('fhir');
const readline = require('readline');

const fhir = new Fhir();
let failed = 0;
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const resource = JSON.parse(line);
  const result = fhir.validate(resource, { errorOnUnexpected: true });
  const errors = (result.messages || []).filter((m) => m.severity === 'error');
  if (errors.length) failed++;
  console.log(JSON.stringify({
    type: resource.resourceType,
    id: resource.id,
    valid: result.valid && errors.length === 0,
    messages: result.messages || [],
  }));
});
rl.on('close', () => process.exit(failed ? 1 : 0));
