// Drives `moderate serve` with npm googleapis' generated commentanalyzer
// client (googleapis@50.0.0, the last release that ships it), rootUrl
// pointed at the server.
//
// Usage: node googleapis_client.js BASE_URL API_KEY STORE (read with $MODERATE_BIN store export)
const {execFileSync} = require('child_process');
const {google} = require('googleapis');

const [base, key, store] = process.argv.slice(2);
const client = google.commentanalyzer('v1alpha1');
const options = {rootUrl: base + '/'};
let failures = 0;
function check(name, ok, detail) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok ? '' : ': ' + detail}`);
  if (!ok) failures++;
}

(async () => {
  const text = 'Nice photo 👍. You are a stupid idiot!';
  const res = await client.comments.analyze({
    key,
    requestBody: {
      comment: {text},
      requestedAttributes: {TOXICITY: {}, SEVERE_TOXICITY: {scoreType: 'PROBABILITY'}},
      spanAnnotations: true,
      languages: ['en'],
      doNotStore: true,
      clientToken: 'node-token',
    },
  }, options);
  const tox = res.data.attributeScores && res.data.attributeScores.TOXICITY;
  const v = tox && tox.summaryScore.value;
  check('analyze: TOXICITY summaryScore', res.status === 200 && typeof v === 'number' && v >= 0 && v <= 1, JSON.stringify(res.data));
  // JavaScript strings are UTF-16: the emoji is two code units.
  const pieces = (tox.spanScores || []).map(s => text.slice(s.begin, s.end));
  check('analyze: spans slice JavaScript strings exactly', JSON.stringify(pieces) === JSON.stringify(['Nice photo 👍.', 'You are a stupid idiot!']), JSON.stringify(pieces));
  check('analyze: clientToken echoed', res.data.clientToken === 'node-token', JSON.stringify(res.data));
  check('analyze: model version header', /^[0-9a-f]{12}$/.test(res.headers['x-moderate-model-version'] || ''), JSON.stringify(res.headers));

  const fb = await client.comments.suggestscore({
    key,
    requestBody: {
      comment: {text: 'You are vermin, all of you.'},
      attributeScores: {TOXICITY: {summaryScore: {value: 1}}},
      communityId: 'Coral:https://node.example',
      clientToken: 'comment:node-1',
    },
  }, options);
  check('suggestscore: answered', fb.status === 200 && fb.data.clientToken === 'comment:node-1', JSON.stringify(fb.data));
  const rows = execFileSync(process.env.MODERATE_BIN, ['store', 'export', '--store', store, '--labels', 'abusive,violent'], {encoding: 'utf8'}).split('\n');
  check('suggestscore: decision in the store', rows.some(r => r.startsWith('comment:node-1,"You are vermin, all of you.",1,-1,Coral:https://node.example,')), rows.join(' | '));

  try {
    await client.comments.analyze({key: 'wrong', requestBody: {comment: {text: 'hi'}, requestedAttributes: {TOXICITY: {}}}}, options);
    check('error: bad key', false, 'no error');
  } catch (e) {
    const status = e.response && e.response.status;
    check('error: bad key -> 400, message surfaced by the client', status === 400 && /API key not valid/.test(e.message), `${status} ${e.message}`);
  }
  process.exit(failures ? 1 : 0);
})().catch(e => { console.log(`FAIL unexpected error: ${e.stack}`); process.exit(1); });
