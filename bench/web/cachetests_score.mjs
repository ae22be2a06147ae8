// Scores cache-tests result files (the JSON cli.mjs prints) the way
// cache-tests.fyi counts them: a test passes when its result is true and
// every test it depends on passes; browser-only tests are left out; the
// kind defaults to required.
//
//   node cachetests_score.mjs SUITE_DIR result.json... [--json] [--groups]
//
// SUITE_DIR is the installed http-cache-tests package.
import fs from 'fs'
import path from 'path'
import { pathToFileURL } from 'url'

const args = process.argv.slice(2)
const suiteDir = args.shift()
const asJSON = args.includes('--json')
const groups = args.includes('--groups')
const files = args.filter(a => !a.startsWith('--'))
const tests = (await import(pathToFileURL(path.join(suiteDir, 'tests', 'index.mjs')))).default
const byId = {}
for (const suite of tests) for (const t of suite.tests) byId[t.id] = t

for (const f of files) {
  const res = JSON.parse(fs.readFileSync(f))
  const pass = id => res[id] === true && (byId[id]?.depends_on || []).every(pass)
  const out = { file: f, required: 0, requiredPassed: 0, optimal: 0, optimalPassed: 0, failedRequired: [], groups: {} }
  for (const suite of tests) {
    const g = out.groups[suite.name] = { passed: 0, tests: 0 }
    for (const t of suite.tests) {
      if (t.browser_only) continue
      const kind = t.kind || 'required'
      const ok = pass(t.id)
      if (kind === 'required') {
        out.required++
        if (ok) out.requiredPassed++; else out.failedRequired.push(t.id)
      } else if (kind === 'optimal') {
        out.optimal++
        if (ok) out.optimalPassed++
      }
      if (kind !== 'check') { g.tests++; if (ok) g.passed++ }
    }
  }
  if (asJSON) {
    console.log(JSON.stringify(out))
    continue
  }
  console.log(`${path.basename(f)}: required ${out.requiredPassed}/${out.required}, optimal ${out.optimalPassed}/${out.optimal}`)
  if (groups) {
    for (const [k, v] of Object.entries(out.groups)) if (v.tests) console.log(`  ${k}: ${v.passed}/${v.tests}`)
    console.log(`  failed required: ${out.failedRequired.join(' ')}`)
  }
}
