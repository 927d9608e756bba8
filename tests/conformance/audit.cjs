// The graphql-http server audit (https://github.com/graphql/graphql-http) against a running
// gateway: every MUST and every SHOULD must pass (MAY are reported, not required).
// Usage: node audit.cjs <graphql url>; the bearer token in SCV_AUDIT_TOKEN; graphql-http
// found through NODE_PATH (CommonJS, since ES modules ignore it).
const { auditServer } = require('graphql-http');

const url = process.argv[2];
const token = process.env.SCV_AUDIT_TOKEN;
if (!url || !token) {
  console.error('usage: SCV_AUDIT_TOKEN=<bearer token> node audit.cjs <graphql url>');
  process.exit(2);
}

// Every request the audit makes carries the bearer token, as any client's must.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

async function main() {
  const results = await auditServer({ url, fetchFn });
  let failed = 0;
  for (const result of results) {
    const required = !result.name.startsWith('MAY');
    const mark = result.status === 'ok' ? 'ok  ' : required ? 'FAIL' : 'may ';
    if (result.status !== 'ok' && required) failed += 1;
    console.log(`${mark} ${result.id} ${result.name}`);
    if (result.status !== 'ok') {
      console.log(`       ${result.reason}`);
    }
  }
  const passed = results.filter((r) => r.status === 'ok').length;
  console.log(`\n${passed}/${results.length} audits pass; ${failed} MUST or SHOULD fail`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
