// Validates Kubernetes manifests (the multi-document YAML `helm template` prints)
// against the API schemas shipped in the npm packages kubernetes-models (built-in
// kinds) and @kubernetes-models/keda (ScaledObject), without a cluster:
//
//   node kube_validate.mjs FILE...
//
// Each document must parse (no duplicate keys), name an apiVersion/kind those
// packages know, pass the schema (types, enums, required fields) and hold no
// field the schema does not know (the API server drops or, with strict field
// validation, refuses those; a typo such as imagePullPolcy would otherwise pass
// silently). Prints one line per problem ("FILE: Kind/name: /json/pointer:
// message") on stderr and one summary line per file on stdout. Exit 0: all
// valid; 1: a problem found; 2: bad usage, or the packages are not installed.
//
// The packages ship compiled validators, not the schemas, so a field is known
// when the validator looks at it: replaced by a Symbol (a value no JSON schema
// type accepts), a known field gets an error at its own path, an unknown one
// gets none. A field whose schema accepts anything (preserve-unknown-fields)
// would count as unknown; the chart renders none.
//
// The packages come from scripts/setup, in $REPLAY_CACHE_DIR/node_modules.
import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const cacheDir = process.env.REPLAY_CACHE_DIR || join(homedir(), ".cache", "assemblyline-replay");
const modulesDir = join(cacheDir, "node_modules");

function usageError(message) {
  process.stderr.write(`kube_validate: ${message}\n`);
  process.exit(2);
}

// The package holding an API group's models: KEDA's groups end in keda.sh.
function modelDir(apiVersion) {
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  const pkg = group.endsWith("keda.sh") ? "@kubernetes-models/keda" : "kubernetes-models";
  return join(modulesDir, pkg, apiVersion);
}

const groupModules = new Map();
async function modelClass(apiVersion, kind) {
  if (!groupModules.has(apiVersion)) {
    const index = join(modelDir(apiVersion), "index.js");
    groupModules.set(apiVersion, existsSync(index) ? await import(pathToFileURL(index).href) : null);
  }
  const mod = groupModules.get(apiVersion);
  const cls = mod && Object.hasOwn(mod, kind) ? mod[kind] : null;
  return cls && cls.apiVersion === apiVersion && cls.kind === kind ? cls : null;
}

// The schema errors for data as a cls object ([] when valid).
function schemaErrors(cls, data) {
  try {
    new cls(data).validate();
    return [];
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    return e.errors;
  }
}

const escapePointer = (key) => String(key).replace(/~/g, "~0").replace(/\//g, "~1");
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const PROBE = Symbol("probe");

// Pointers of the fields under node (at pointer) that the schema never looks at.
function unknownFields(cls, doc, node, pointer, found) {
  if (Array.isArray(node)) {
    node.forEach((item, i) => unknownFields(cls, doc, item, `${pointer}/${i}`, found));
    return found;
  }
  if (!isObject(node)) return found;
  for (const key of Object.keys(node)) {
    const path = `${pointer}/${escapePointer(key)}`;
    const saved = node[key];
    node[key] = PROBE;
    const seen = schemaErrors(cls, doc).some(
      (e) => e.instancePath === path || e.instancePath.startsWith(`${path}/`));
    node[key] = saved;
    if (seen) unknownFields(cls, doc, saved, path, found);
    else found.push(path);
  }
  return found;
}

async function documentProblems(doc) {
  if (!isObject(doc)) return ["/: not a mapping"];
  const { apiVersion, kind } = doc;
  if (typeof apiVersion !== "string" || typeof kind !== "string")
    return ["/: apiVersion and kind must be strings"];
  const cls = await modelClass(apiVersion, kind);
  if (!cls) return [`/: no schema for apiVersion ${apiVersion} kind ${kind}`];
  const errors = schemaErrors(cls, doc);
  if (errors.length)
    return errors.map((e) => `${e.instancePath || "/"}: ${e.message}${
      e.params?.allowedValues ? ` (${e.params.allowedValues.join(", ")})` : ""}`);
  return unknownFields(cls, doc, doc, "", []).map((p) => `${p}: unknown field`);
}

// YAML as the API server reads it (go-yaml v2 via sigs.k8s.io/yaml): YAML 1.1
// scalars (yes/no/on/off are booleans), timestamps left as strings.
const PARSE_OPTIONS = {
  version: "1.1",
  uniqueKeys: true,
  customTags: (tags) => tags.filter((t) => t.tag !== "tag:yaml.org,2002:timestamp"),
};

async function main(files) {
  if (files.length === 0) usageError("usage: node kube_validate.mjs FILE...");
  if (!existsSync(join(modulesDir, "kubernetes-models", "package.json")))
    usageError(`kubernetes-models is not installed in ${modulesDir} (run scripts/setup)`);
  const YAML = createRequire(join(modulesDir, "noop.js"))("yaml");
  let problemCount = 0;
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      usageError(`cannot read ${file}: ${e.message}`);
    }
    const kinds = [];
    let fileProblems = 0;
    const report = (what, message) => {
      fileProblems++;
      process.stderr.write(`${file}: ${what}: ${message}\n`);
    };
    for (const [i, parsed] of YAML.parseAllDocuments(text, PARSE_OPTIONS).entries()) {
      const where = `document ${i + 1}`;
      if (parsed.errors.length) {
        report(where, `YAML: ${parsed.errors[0].message.split("\n")[0]}`);
        continue;
      }
      const doc = parsed.toJS();
      if (doc === null || doc === undefined) continue; // an empty document between ---
      const name = `${doc.kind ?? "?"}/${doc.metadata?.name ?? where}`;
      const problems = await documentProblems(doc);
      problems.forEach((p) => report(name, p));
      if (problems.length === 0) kinds.push(name);
    }
    if (kinds.length === 0 && fileProblems === 0) report("file", "no Kubernetes object in it");
    problemCount += fileProblems;
    process.stdout.write(`${file}: ${kinds.length} valid: ${kinds.join(" ")}\n`);
  }
  process.exit(problemCount ? 1 : 0);
}

await main(process.argv.slice(2));
