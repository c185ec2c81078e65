#!/usr/bin/python3
"""Keeps docs/openapi.yaml an API description that tools accept, and true to the server.

  check_openapi.py document DOC        strict YAML, OpenAPI 3.1, sound schemas and references
  check_openapi.py responses DOC [DIR] every recorded answer against its documented schema
                                       (DIR: $STALLFRONT_TEST_VAR/responses/ by default)
  check_openapi.py operations DOC      "METHOD /path" for each documented operation (strict parse)
  check_openapi.py reset               empties $STALLFRONT_TEST_VAR/responses/
  check_openapi.py selftest            proves that the checks above refuse drift

Run with Debian's /usr/bin/python3 and its packages python3-yaml and python3-jsonschema
(4.10, which has Draft 2020-12, the dialect of OpenAPI 3.1 schemas). Debian 12 packages
no OpenAPI 3.1 validator: the document as a whole is validated as OpenAPI 3.1 by
validate_openapi.mjs beside this file (@seriousme/openapi-schema-validator from npm, locked
in package-lock.json, installed by scripts/dev). This script adds the strict parse (a
duplicate key is refused) and the checks that schema cannot express: references resolve,
path templates match their path parameters, operation ids are unique, and every Schema
Object is a valid Draft 2020-12 schema with no keyword outside the dialect (a description
with an unquoted comma in a YAML flow mapping becomes such a stray keyword).

The answers come from tests/support/testutil.c: each e2e test process appends one JSON
line per answer from our server (method, path with query, status, content_type, body).
A check that validates nothing fails: no recorded answers is an error, not a pass.
"""
import datetime
import json
import os
import re
import shutil
import sys
import tempfile

import jsonschema
import yaml
from jsonschema import Draft202012Validator, FormatChecker, RefResolver

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Paths the test server registers only for tests (config test_routes); not part of the API.
TEST_ONLY_PREFIX = "/_test/"
# The web app (http.web_root) under /app: files (HTML, scripts, images) at any depth and the
# app's own routes, which OpenAPI paths cannot describe (a template matches one segment) and
# which are not the API. tests/e2e/test_webapp.c checks those answers, their error shape too.
WEB_APP = "/app"


def is_web_app(path):
    return path == WEB_APP or path.startswith(WEB_APP + "/")


# ------------------------------------------------------------------------ strict YAML
class StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "duplicate key %r (first at line %d)" % (key, seen[key]), key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_document(text):
    """The document parsed strictly; raises yaml.YAMLError on anything a strict parser refuses."""
    return yaml.load(text, Loader=StrictLoader)


# ------------------------------------------------------------------------ formats
def _format_checker():
    """Draft 2020-12 formats; date-time is checked here because jsonschema only checks it
    with an optional package Debian 12 does not have."""
    checker = FormatChecker()
    rfc3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value):
        if not isinstance(value, str):
            return True
        if not rfc3339.match(value):
            raise ValueError("%r is not an RFC 3339 date-time" % value)
        datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        return True

    return checker


FORMATS = _format_checker()


# ------------------------------------------------------------------------ the document
def resolve(doc, ref):
    """The object a local reference ("#/a/b") names; KeyError when it names nothing."""
    if not ref.startswith("#/"):
        raise KeyError("%s: only local references are used here" % ref)
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(ref)
    return node


def deref(doc, obj):
    while isinstance(obj, dict) and "$ref" in obj and len(obj) <= 3:  # a Reference Object
        obj = resolve(doc, obj["$ref"])
    return obj


# Every keyword of the Draft 2020-12 vocabularies, and OpenAPI's own (oas-base dialect).
SCHEMA_KEYWORDS = set("""
$schema $id $ref $anchor $dynamicRef $dynamicAnchor $vocabulary $comment $defs
allOf anyOf oneOf not if then else dependentSchemas prefixItems items contains properties
patternProperties additionalProperties propertyNames unevaluatedItems unevaluatedProperties
type const enum multipleOf maximum exclusiveMaximum minimum exclusiveMinimum maxLength
minLength pattern maxItems minItems uniqueItems maxContains minContains maxProperties
minProperties required dependentRequired format contentEncoding contentMediaType
contentSchema title description default deprecated readOnly writeOnly examples
discriminator xml externalDocs example
""".split())
SUBSCHEMA = ("not", "if", "then", "else", "items", "contains", "additionalProperties", "propertyNames",
             "unevaluatedItems", "unevaluatedProperties", "contentSchema")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def schema_problems(schema, where):
    """Keywords outside the dialect in a Schema Object and all its subschemas."""
    if not isinstance(schema, dict):
        return []
    out = ["%s: %r is not a schema keyword" % (where, k)
           for k in schema if k not in SCHEMA_KEYWORDS and not str(k).startswith("x-")]
    for k in SUBSCHEMA:
        if k in schema:
            out += schema_problems(schema[k], "%s/%s" % (where, k))
    for k in SUBSCHEMA_LISTS:
        for i, sub in enumerate(schema.get(k) or []):
            out += schema_problems(sub, "%s/%s/%d" % (where, k, i))
    for k in SUBSCHEMA_MAPS:
        for name, sub in (schema.get(k) or {}).items():
            out += schema_problems(sub, "%s/%s/%s" % (where, k, name))
    return out


def schema_objects(node, where):
    """(where, schema) for each top-level Schema Object outside components/schemas: the
    values of `schema` keys in parameters, headers and media types."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "schema" and isinstance(v, (dict, bool)):
                yield "%s/schema" % where, v
            elif k != "examples" and k != "example":
                yield from schema_objects(v, "%s/%s" % (where, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from schema_objects(v, "%s/%d" % (where, i))


def refs(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield where, v
            else:
                yield from refs(v, "%s/%s" % (where, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from refs(v, "%s/%d" % (where, i))


def path_parameter_problems(doc):
    out, op_ids = [], {}
    for path, item in (doc.get("paths") or {}).items():
        item = deref(doc, item)
        templated = set(re.findall(r"{([^}/]+)}", path))
        shared = [deref(doc, p) for p in item.get("parameters", [])]
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            params = shared + [deref(doc, p) for p in op.get("parameters", [])]
            declared = {p.get("name") for p in params if isinstance(p, dict) and p.get("in") == "path"}
            for name in sorted(templated - declared):
                out.append("%s %s: path parameter {%s} is not declared" % (method.upper(), path, name))
            for name in sorted(declared - templated):
                out.append("%s %s: path parameter %r is not in the path" % (method.upper(), path, name))
            op_id = op.get("operationId")
            if op_id is not None and op_id in op_ids:
                out.append("%s %s: operationId %r already used by %s" % (method.upper(), path, op_id, op_ids[op_id]))
            op_ids.setdefault(op_id, "%s %s" % (method.upper(), path))
    return out


def document_problems(text):
    """Everything wrong with the document, as messages; [] when tools will accept it."""
    try:
        doc = load_document(text)
    except yaml.YAMLError as e:
        return ["not strict YAML: %s" % e]
    if not isinstance(doc, dict):
        return ["not an OpenAPI document (top level is not a mapping)"]
    # The whole document against the OpenAPI 3.1 schema is validate_openapi.mjs's work (an
    # established validator from npm); the checks below need only this much of its shape.
    out = []
    if not str(doc.get("openapi", "")).startswith("3.1."):
        out.append("OpenAPI 3.1: openapi is %r, not 3.1.x" % doc.get("openapi"))
    for key in ("info", "paths"):
        if not isinstance(doc.get(key), dict):
            out.append("OpenAPI 3.1: %s is missing or not a mapping" % key)
    if out:
        return out  # the checks below assume the document's shape
    for where, ref in refs(doc, "#"):
        try:
            resolve(doc, ref)
        except (KeyError, IndexError, ValueError):
            out.append("%s: $ref %r names nothing" % (where, ref))
    found = [("#/components/schemas/%s" % n, s) for n, s in (doc.get("components", {}).get("schemas") or {}).items()]
    found += list(schema_objects({k: v for k, v in doc.items() if k != "components"}, "#"))
    found += list(schema_objects({k: v for k, v in doc.get("components", {}).items() if k != "schemas"},
                                 "#/components"))
    for where, schema in found:
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            out.append("%s: not a Draft 2020-12 schema: %s" % (where, e.message))
        out += schema_problems(schema, where)
    out += path_parameter_problems(doc)
    return out


# ------------------------------------------------------------------------ the answers
class Routes:
    """The documented operations, found from a concrete request path."""

    def __init__(self, doc):
        self.doc = doc
        self.paths = []
        for template, item in (doc.get("paths") or {}).items():
            parts = re.split(r"({[^}/]+})", template)
            rx = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
            self.paths.append((template.count("{"), template, re.compile("^%s$" % rx), deref(doc, item)))
        self.paths.sort(key=lambda p: p[0])  # a literal segment wins over a template

    def find(self, path):
        for _, template, rx, item in self.paths:
            if rx.match(path):
                return template, item
        return None, None


def media_type(content, ctype):
    """The documented media type a Content-Type matches, or None."""
    if not ctype:
        return None
    ct = ctype.split(";")[0].strip().lower()
    for candidate in (ct, ct.split("/")[0] + "/*", "*/*"):
        for key in content:
            if key.lower() == candidate:
                return key
    return None


def is_json(mt):
    mt = mt.split(";")[0].strip().lower()
    return mt == "application/json" or mt.endswith("+json")


def check_record(doc, routes, rec):
    """None when the answer is what the document promises; else (operation, message).
    "skip" for what is not part of the API."""
    method, full, status = rec["method"].lower(), rec["path"], rec["status"]
    path = full.split("?")[0].split("#")[0]
    if path.startswith(TEST_ONLY_PREFIX) or is_web_app(path):
        return "skip"
    template, item = routes.find(path)
    op = None if item is None else item.get(method) or (item.get("get") if method == "head" else None)
    if op is None:
        # Only the router's own answers (x-unrouted) may come from an undocumented operation.
        name = "%s %s" % (rec["method"], path if item is None else template)
        why = "the path is not documented" if item is None else "the method is not documented for this path"
        kind = "path" if item is None else "method"
        op = (doc.get("x-unrouted") or {}).get(kind) or {}
        if str(status) not in (op.get("responses") or {}):
            return (name, "%s, and %d is not among x-unrouted/%s's answers" % (why, status, kind))
    else:
        name = "%s %s" % (rec["method"], template)
    bodyless = method == "head" or status == 304 or 100 <= status < 200 or status == 204
    responses = op.get("responses") or {}
    key = next((k for k in (str(status), "%dXX" % (status // 100), "default") if k in responses), None)
    if key is None:
        return (name, "status %d is not documented (documented: %s)" % (status, ", ".join(sorted(responses))))
    resp = deref(doc, responses[key])
    content = resp.get("content") or {}
    body = rec.get("body")
    if bodyless:
        return None
    if not content:
        if body:
            return (name, "status %d: a body is not documented, got %s" % (status, rec.get("content_type")))
        return None
    mt = media_type(content, rec.get("content_type"))
    if mt is None:
        return (name, "status %d: content type %r is not documented (documented: %s)" % (
            status, rec.get("content_type"), ", ".join(content)))
    schema = (content[mt] or {}).get("schema")
    if schema is None or not is_json(mt):
        return None  # only the media type is checked for non-JSON bodies
    if not rec.get("body_utf8", True) or body is None:
        return (name, "status %d: the JSON body is not UTF-8" % status)
    try:
        instance = json.loads(body)
    except ValueError as e:
        return (name, "status %d: the body is not JSON: %s" % (status, e))
    validator = validator_for(doc, schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        e = errors[0]
        return (name, "status %d: at /%s: %s (schema: %s)" % (
            status, "/".join(map(str, e.path)), e.message, "/".join(map(str, e.schema_path))))
    extra = undocumented_fields(doc, schema, instance)
    if extra:
        return (name, "status %d: undocumented field(s) %s" % (status, ", ".join(extra)))
    return None


_VALIDATORS = {}


def validator_for(doc, schema):
    """One Draft 2020-12 validator per schema, its references resolved in the document
    (built once: the same few schemas check thousands of answers)."""
    key = (id(doc), id(schema))
    if key not in _VALIDATORS:
        _VALIDATORS[key] = (schema, Draft202012Validator(schema, resolver=RefResolver("", doc),
                                                         format_checker=FORMATS))
    return _VALIDATORS[key][1]


def applicable(doc, schema, instance):
    """The subschemas that apply to instance: schema itself, its allOf parts, and the
    oneOf/anyOf branches that instance is valid against, references followed."""
    schema = deref_schema(doc, schema)
    if not isinstance(schema, dict):
        return []
    out = [schema]
    for part in schema.get("allOf", []):
        out += applicable(doc, part, instance)
    for key in ("oneOf", "anyOf"):
        for branch in schema.get(key, []):
            if validator_for(doc, branch).is_valid(instance):
                out += applicable(doc, branch, instance)
    return out


def deref_schema(doc, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        schema = resolve(doc, schema["$ref"])
    return schema


def undocumented_fields(doc, schema, instance, where=""):
    """Object members the schema does not name. The document's schemas stay open (clients
    must tolerate new fields), but the server must not send a field the document does not
    describe: that is drift, as much as a missing one."""
    parts = applicable(doc, schema, instance)
    out = []
    if isinstance(instance, dict):
        named, open_ended = {}, False
        for part in parts:
            for name, sub in (part.get("properties") or {}).items():
                named.setdefault(name, []).append(sub)
            extra = part.get("additionalProperties")
            open_ended |= bool(part.get("patternProperties")) or (extra is not None and extra is not False)
        for name, value in instance.items():
            if name in named:  # every schema that names the member applies to it together
                out += undocumented_fields(doc, {"allOf": named[name]}, value, "%s/%s" % (where, name))
            elif not open_ended and any("properties" in part for part in parts):
                out.append("%s/%s" % (where, name))
    elif isinstance(instance, list):
        for part in parts:
            if isinstance(part.get("items"), dict):
                for i, value in enumerate(instance):
                    out += undocumented_fields(doc, part["items"], value, "%s/%d" % (where, i))
    return sorted(set(out))


def read_records(directory):
    files = sorted(f for f in os.listdir(directory) if f.endswith(".jsonl")) if os.path.isdir(directory) else []
    for f in files:
        with open(os.path.join(directory, f), encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    yield "%s:%d" % (f, n), json.loads(line)


def check_responses(doc, directory, out=sys.stdout):
    """Validates every recorded answer; returns (checked, skipped, failures)."""
    routes, failures, checked, skipped = Routes(doc), {}, 0, 0
    for where, rec in read_records(directory):
        result = check_record(doc, routes, rec)
        if result == "skip":
            skipped += 1
            continue
        checked += 1
        if result is not None:
            failures.setdefault(result, []).append("%s %s (%s)" % (rec["method"], rec["path"], where))
    for (op, msg), seen in sorted(failures.items()):
        print("FAIL %s: %s\n     %d answer(s), first: %s" % (op, msg, len(seen), seen[0]), file=out)
    return checked, skipped, sum(len(v) for v in failures.values())


# ------------------------------------------------------------------------ self test
SELFTEST_DOC = """\
openapi: 3.1.0
info: {title: selftest, version: "1"}
paths:
  /v1/things/{id}:
    get:
      operationId: getThing
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses:
        "200":
          description: The thing.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Thing"}
        "404":
          description: No such thing.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Error"}
  /v1/things/mine:
    get:
      operationId: getMine
      responses:
        "200":
          description: Mine, as text.
          content:
            text/plain:
              schema: {type: string}
x-unrouted:
  path:
    responses:
      "404":
        description: No route has this path.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Error"}
components:
  schemas:
    Thing:
      type: object
      additionalProperties: false
      required: [id, name, at]
      properties:
        id: {type: integer}
        name: {type: string, description: "One line, printable."}
        at: {type: string, format: date-time}
    Error:
      type: object
      required: [error]
      properties:
        error: {type: object, required: [code], properties: {code: {type: string}}}
"""


def selftest():
    """Each drift the checks exist for must be refused, and the good cases accepted."""
    failed = []

    def expect(what, ok, got):
        print("%s %s" % ("ok  " if ok else "FAIL", what))
        if not ok:
            failed.append("%s: %s" % (what, got))

    good = document_problems(SELFTEST_DOC)
    expect("a sound document is accepted", good == [], good)
    bad_docs = {
        "a duplicate key is refused": SELFTEST_DOC + "  schemas:\n    Other: {type: string}\n",
        "an unquoted comma in a flow-style description is refused":
            SELFTEST_DOC.replace('"One line, printable."', "One line, printable."),
        "an undeclared path parameter is refused": SELFTEST_DOC.replace("{name: id,", "{name: thing_id,"),
        "a reference to nothing is refused": SELFTEST_DOC.replace("schemas/Thing\"", "schemas/Thingy\""),
        "a document that is not OpenAPI 3.1 is refused": SELFTEST_DOC.replace("3.1.0", "3.0.3"),
    }
    for what, text in bad_docs.items():
        problems = document_problems(text)
        expect(what, problems != [], problems)

    doc = load_document(SELFTEST_DOC)
    thing = {"id": 1, "name": "x", "at": "2026-01-02T03:04:05.678+08:00"}
    records = {
        "a matching answer passes": (True, "GET", "/v1/things/1?x=1", 200, "application/json", thing),
        "a literal path wins over a template": (True, "GET", "/v1/things/mine", 200, "text/plain", "mine"),
        "a missing required field fails": (False, "GET", "/v1/things/1", 200, "application/json",
                                           {"id": 1, "name": "x"}),
        "an undocumented field fails": (False, "GET", "/v1/things/1", 200, "application/json", dict(thing, extra=1)),
        "a wrong type fails": (False, "GET", "/v1/things/1", 200, "application/json", dict(thing, id="1")),
        "a bad date-time fails": (False, "GET", "/v1/things/1", 200, "application/json", dict(thing, at="yesterday")),
        "an undocumented status fails": (False, "GET", "/v1/things/1", 500, "application/json", {}),
        "an undocumented content type fails": (False, "GET", "/v1/things/1", 200, "text/html", "<p>"),
        "an undocumented path fails": (False, "GET", "/v1/other", 200, "application/json", {}),
        "an undocumented method fails": (False, "DELETE", "/v1/things/1", 200, "application/json", thing),
        "a body that is not JSON fails": (False, "GET", "/v1/things/1", 200, "application/json", "{"),
        "a member no schema names fails, even in an open object": (
            False, "GET", "/v1/things/1", 404, "application/json", {"error": {"code": "x", "hint": "y"}}),
        "the router's 404 for an unknown path passes (x-unrouted)":
            (True, "GET", "/v1/nothing", 404, "application/json", {"error": {"code": "not_found"}}),
        "another answer for an unknown path fails": (False, "GET", "/v1/nothing", 200, "application/json", {}),
        "a 404 for an undocumented method fails (only x-unrouted/method's answers may come)":
            (False, "DELETE", "/v1/things/1", 404, "application/json", {"error": {"code": "not_found"}}),
        "the router's 404 must have the documented shape": (False, "GET", "/v1/nothing", 404, "application/json", {}),
    }
    routes = Routes(doc)
    for what, (ok, method, path, status, ctype, body) in records.items():
        rec = {"method": method, "path": path, "status": status, "content_type": ctype,
               "body": body if isinstance(body, str) else json.dumps(body), "body_utf8": True}
        result = check_record(doc, routes, rec)
        expect(what, (result is None) == ok, result)
    web_app = {"method": "GET", "path": "/app/vendor?x=1", "status": 200, "content_type": "text/html",
               "body": "<p>", "body_utf8": True}
    not_app = dict(web_app, path="/apple")
    result = (check_record(doc, routes, web_app), check_record(doc, routes, not_app))
    expect("the web app's answers are skipped, /apple is not", result[0] == "skip" and result[1] not in ("skip", None),
           result)

    with tempfile.TemporaryDirectory() as empty:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(SELFTEST_DOC)
            f.flush()
            with open(os.devnull, "w") as quiet:
                saved, sys.stdout = sys.stdout, quiet
                try:
                    rc = cmd_responses(f.name, empty)
                finally:
                    sys.stdout = saved
        expect("no recorded answers fails the check", rc != 0, rc)
    total = 1 + len(bad_docs) + len(records) + 2
    print("%d passed, %d failed" % (total - len(failed), len(failed)))
    return 1 if failed else 0


# ------------------------------------------------------------------------ commands
def cmd_document(path):
    with open(path, encoding="utf-8") as f:
        problems = document_problems(f.read())
    for p in problems:
        print("%s: %s" % (path, p))
    if problems:
        print("%s: %d problem(s)" % (path, len(problems)))
        return 1
    doc = load_document(open(path, encoding="utf-8").read())
    ops = sum(1 for item in doc["paths"].values() for m in METHODS if m in item)
    print("%s: strict YAML, sound references and schemas (openapi %s); %d paths, %d operations, %d component schemas" % (
        path, doc["openapi"], len(doc["paths"]), ops, len(doc["components"]["schemas"])))
    return 0


def cmd_operations(path):
    """The operations, one "GET /v1/..." a line, for tests/e2e/test_openapi.c's route table."""
    with open(path, encoding="utf-8") as f:
        doc = load_document(f.read())
    for template, item in doc["paths"].items():
        for method in METHODS:
            if method in deref(doc, item):
                print("%s %s" % (method.upper(), template))
    return 0


def cmd_responses(path, directory):
    with open(path, encoding="utf-8") as f:
        doc = load_document(f.read())
    checked, skipped, failed = check_responses(doc, directory)
    print("%d recorded answers validated against %s (%d test-only skipped), %d failed" % (
        checked, path, skipped, failed))
    if checked == 0:
        print("no answers were recorded under %s: a check that validates nothing fails" % directory)
        return 1
    return 1 if failed else 0


def responses_dir():
    """$STALLFRONT_TEST_VAR/responses, where the e2e suites record; None without the variable."""
    var = os.environ.get("STALLFRONT_TEST_VAR")
    if not var:
        print("STALLFRONT_TEST_VAR is not set: run the tests through scripts/dev test")
        return None
    return os.path.join(var, "responses")


def cmd_reset():
    directory = responses_dir()
    if directory is None:
        return 1
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "document":
        return cmd_document(argv[2])
    if len(argv) in (3, 4) and argv[1] == "responses":
        directory = argv[3] if len(argv) == 4 else responses_dir()
        return cmd_responses(argv[2], directory) if directory is not None else 1
    if len(argv) == 3 and argv[1] == "operations":
        return cmd_operations(argv[2])
    if len(argv) == 2 and argv[1] == "reset":
        return cmd_reset()
    if len(argv) == 2 and argv[1] == "selftest":
        return selftest()
    print(__doc__.split("\n\n")[0], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
