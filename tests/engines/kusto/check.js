#!/usr/bin/env node
// Kusto.Language diagnostics for every KQL query rmmc emitted: `node check.js OUT_DIR`.
// Reads OUT_DIR/kql/*.kql and the `query:` of every OUT_DIR/sentinel/**/*.yaml, binds each
// against the real table schemas in backends/kql-schema.json (so an unknown column, a wrong type such as
// `has` on the int RemotePort, or a syntax error is an error), and prints every diagnostic as
// file:line:col. Exit 0 only when there are queries and none has an error.
// `node check.js --self-test` proves the checker can fail: known-bad queries must be refused.
"use strict";
const fs = require("fs");
const path = require("path");
require("@kusto/language-service-next/bridge.min.js");
require("@kusto/language-service-next/Kusto.Language.Bridge.min.js");
const YAML = require("yaml");

function globals() {
  const S = Kusto.Language.Symbols;
  const schemas = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "..", "backends", "kql-schema.json"), "utf8"));
  const entries = Object.entries(schemas).filter(([name]) => name !== "_comment");
  const tables = entries
    .filter(([name]) => !name.startsWith("_Im_"))
    .map(([name, cols]) => S.TableSymbol.From(`(${cols})`).WithName(name));
  // The ASIM unifying parsers (`_Im_NetworkSession` …) are stored functions, not tables: each is
  // declared as one, with the optional time parameters every ASIM filtering parser takes
  // (learn.microsoft.com/azure/sentinel/normalization-about-parsers), returning its schema's
  // columns. FunctionSymbol(name, parameterList, body, description) is $ctor16 in the Bridge.NET
  // build.
  const functions = entries
    .filter(([name]) => name.startsWith("_Im_"))
    .map(([name, cols]) => new S.FunctionSymbol.$ctor16(
      name,
      "(starttime:datetime=datetime(null), endtime:datetime=datetime(null))",
      `{ datatable(${cols})[] }`,
      "ASIM unifying parser"));
  // DatabaseSymbol(string name, IEnumerable<Symbol> members) is $ctor1 in the Bridge.NET build.
  const db = new S.DatabaseSymbol.$ctor1("rmmc", tables.concat(functions));
  return Kusto.Language.GlobalState.Default.WithDatabase(db);
}

const GLOBALS = globals();

/** Diagnostics of one query: [{severity, code, message, start, end}]. */
function diagnose(query) {
  const code = Kusto.Language.KustoCode.ParseAndAnalyze(query, GLOBALS);
  return Bridge.toArray(code.GetDiagnostics()).map((d) => ({
    severity: d.Severity,
    code: d.Code,
    message: d.Message,
    start: d.Start,
  }));
}

function lineCol(text, offset) {
  const before = text.slice(0, offset).split("\n");
  return [before.length, before[before.length - 1].length + 1];
}

function walk(dir, out) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** [{file, query, lineOffset}] from a build output folder. */
function queries(root) {
  const out = [];
  for (const f of walk(path.join(root, "kql"), []).filter((f) => f.endsWith(".kql"))) {
    out.push({ file: f, query: fs.readFileSync(f, "utf8") });
  }
  for (const f of walk(path.join(root, "sentinel"), []).filter((f) => f.endsWith(".yaml"))) {
    const doc = YAML.parse(fs.readFileSync(f, "utf8"));
    if (!doc || typeof doc.query !== "string") {
      out.push({ file: f, query: null });
    } else {
      out.push({ file: f, query: doc.query });
    }
  }
  return out;
}

function run(root) {
  const qs = queries(root);
  if (qs.length === 0) {
    console.error(`error: no KQL queries under ${root}/kql or ${root}/sentinel`);
    return 1;
  }
  let errors = 0;
  for (const { file, query } of qs) {
    if (query === null) {
      console.error(`${file}: error: no string \`query:\` key`);
      errors++;
      continue;
    }
    for (const d of diagnose(query)) {
      const [l, c] = lineCol(query, d.start);
      const where = file.endsWith(".kql") ? `${file}:${l}:${c}` : `${file} (query line ${l}, column ${c})`;
      console.error(`${where}: ${d.severity.toLowerCase()} ${d.code}: ${d.message}`);
      if (d.severity === "Error") errors++;
    }
  }
  console.log(`Kusto.Language: ${qs.length} queries, ${errors} errors`);
  return errors === 0 ? 0 : 1;
}

function selfTest() {
  const bad = [
    ["unknown column", "DeviceNetworkEvents | where RemoteUrlx has 'a'"],
    ["has on an int column", "DeviceNetworkEvents | where RemotePort has 'a'"],
    ["unknown table", "DeviceNetworkEvent | where RemoteUrl has 'a'"],
    ["syntax", "DeviceNetworkEvents | where RemoteUrl has_all has_any ('a')"],
    ["column of another table", "DeviceNetworkEvents | where ProcessCommandLine has 'a'"],
    ["Defender column on an ASIM parser", "_Im_NetworkSession | where RemoteUrl has 'a'"],
    ["has on an ASIM int column", "_Im_NetworkSession | where DstPortNumber has 'a'"],
  ];
  const good = "let t0 = now(-5d);\nDeviceNetworkEvents | where Timestamp between (t0..now()) | where RemotePort in (443, 7443) and ipv4_is_in_range(RemoteIP, '10.0.0.0/8') | summarize FirstSeen=min(Timestamp), Report=make_set(ReportId), Count=count() by DeviceId";
  let failed = 0;
  for (const [what, q] of bad) {
    if (!diagnose(q).some((d) => d.severity === "Error")) {
      console.error(`self-test: ${what} was not reported: ${q}`);
      failed++;
    }
  }
  // the ASIM parsers, bare (as rmmc and the Azure-Sentinel ASIM rules call them) and with a parameter
  const asim = [
    "_Im_NetworkSession | where TimeGenerated between (ago(5d)..now()) | where DstFQDN has 'a' and DstPortNumber in (443, 7443) | summarize Report=make_set(EventOriginalUid) by DvcId, DvcHostname",
    "_Im_ProcessCreate(starttime=ago(1d)) | where TargetProcessFileCompany has 'a' | project TimeGenerated, TargetProcessName",
    "_Im_FileEvent | where TargetFileName =~ 'a.exe' | project TimeGenerated, TargetFilePath",
  ];
  const g = diagnose(good).concat(...asim.map(diagnose)).filter((d) => d.severity === "Error");
  if (g.length) {
    console.error(`self-test: a valid query was refused: ${JSON.stringify(g)}`);
    failed++;
  }
  console.log(`Kusto.Language self-test: ${bad.length + 1} cases, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

/** The `query: |` block of a Sentinel YAML, by indentation: the corpus files are mostly invalid
 * YAML (a mis-indented `dataTypes:`), so they cannot be parsed as documents. */
function queryBlock(text) {
  const lines = text.split("\n");
  const at = lines.findIndex((l) => /^query:\s*[|>]-?\s*$/.test(l));
  if (at < 0) return null;
  const body = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim() !== "" && !/^\s/.test(l)) break;
    body.push(l);
  }
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.match(/^\s*/)[0].length));
  return body.map((l) => l.slice(indent)).join("\n").replace(/\s+$/, "") + "\n";
}

/** Kusto.Language's verdict on every hunting query of the corpus, as JSON on stdout: relative
 * path → first error (code and message) or null. tests/corpus.rs compares rmmc with it. */
function corpus(root) {
  const out = {};
  for (const f of walk(root, []).filter((f) => /_(netconn|createproc|filesig)\.yaml$/.test(f))) {
    const q = queryBlock(fs.readFileSync(f, "utf8"));
    const rel = path.relative(root, f).split(path.sep).join("/");
    if (q === null) {
      out[rel] = { error: "no query: block" };
      continue;
    }
    const err = diagnose(q).find((d) => d.severity === "Error");
    out[rel] = err ? { error: `${err.code}: ${err.message}` } : null;
  }
  const sorted = Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]]));
  process.stdout.write(JSON.stringify(sorted, null, 1) + "\n");
  return 0;
}

const arg = process.argv[2];
if (arg === "--corpus") process.exit(corpus(process.argv[3]));
if (!arg) {
  console.error("usage: node check.js OUT_DIR | --self-test | --corpus DIR");
  process.exit(2);
}
process.exit(arg === "--self-test" ? selfTest() : run(arg));
