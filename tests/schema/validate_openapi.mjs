// Validates an OpenAPI document (docs/openapi.yaml) as OpenAPI 3.1 with an established
// validator from npm (@seriousme/openapi-schema-validator, which checks a document against
// the OpenAPI Initiative's own schema for its version); check_openapi.py adds the strict
// YAML parse and the checks a schema cannot express.
//   node validate_openapi.mjs FILE             exit 0 when valid OpenAPI 3.1, else 1
//   node validate_openapi.mjs FILE --selftest  exit 0 when doctored copies of FILE are refused
import { readFile } from "node:fs/promises";
import { Validator } from "@seriousme/openapi-schema-validator";

async function check(input) {
    const validator = new Validator();
    const res = await validator.validate(input);
    const is31 = typeof validator.version === "string" && validator.version.startsWith("3.1");
    return { valid: res.valid && is31, version: validator.version, errors: res.errors, doc: validator.specification };
}

// The first parameter object of the document, to doctor.
function firstParameter(doc) {
    for (const item of Object.values(doc.paths ?? {}))
        for (const op of Object.values(item))
            if (op && Array.isArray(op.parameters) && op.parameters.length > 0 && !op.parameters[0].$ref)
                return op.parameters[0];
    return null;
}

async function selftest(doc) {
    const cases = {
        "a stray key in a parameter": (d) => { firstParameter(d)["a stray"] = "key"; },
        "a response without a description": (d) => {
            const op = Object.values(Object.values(d.paths)[0])[0];
            delete Object.values(op.responses)[0].description;
        },
        "an OpenAPI 3.0 version": (d) => { d.openapi = "3.0.3"; },
        "no info": (d) => { delete d.info; },
    };
    let failed = 0;
    for (const [what, doctor] of Object.entries(cases)) {
        const copy = structuredClone(doc);
        doctor(copy);
        const r = await check(copy);
        console.log(`${r.valid ? "FAIL" : "ok  "} ${what} is refused`);
        failed += r.valid ? 1 : 0;
    }
    console.log(`${Object.keys(cases).length - failed} passed, ${failed} failed`);
    return failed === 0;
}

const [file, flag] = process.argv.slice(2);
if (!file || (flag && flag !== "--selftest")) {
    console.error("usage: node validate_openapi.mjs FILE [--selftest]");
    process.exit(2);
}
const r = await check(await readFile(file, "utf8"));
if (!r.valid) {
    console.error(`${file}: not a valid OpenAPI 3.1 document (version ${r.version}):`);
    console.error(JSON.stringify(r.errors, null, 2));
    process.exit(1);
}
if (flag === "--selftest")
    process.exit((await selftest(r.doc)) ? 0 : 1);
console.log(`${file}: valid OpenAPI ${r.version} (@seriousme/openapi-schema-validator)`);
