#!/usr/bin/python3
"""Checks the HTTP API against docs/api/openapi.yaml.

usage: openapi_check.py SPEC API_C CALLS_DIR

1. The routes in src/http/api.c's table and the operations in the spec are the
   same set (nothing undocumented, nothing documented but missing).
2. Every recorded call (CALLS_DIR/*.json, written by the integration test:
   {"method", "path", "status", "contentType", "body"}) has a status the
   spec documents for its operation, or one of the spec's x-protocol-errors
   (answers any request may get), and a JSON body valid against that
   response's schema.  A call matching no operation must be a 404, a 405,
   a 401 under /api (no key) or one of x-protocol-errors, with a JSON Error.
3. Every operation of the spec was called at least once with a 2xx answer.
4. Every status an operation documents was answered at least once, unless
   its response says why no call of the suite can get it
   (`x-not-replayed: REASON`), so the document lists no status the daemon
   never gives and the suite shows every one it does.
A HEAD call is checked as a GET of the same path whose answer has no body.

Prints one line per problem and exits 1 if there is any.
"""
import glob
import json
import re
import sys

import jsonschema
import yaml


def routes_of(api_c):
    text = open(api_c).read()
    table = text[text.index("api_routes[] = {"):]
    table = table[:table.index("};")]
    out = set()
    for m in re.finditer(r'\{\s*HTTPD_(GET|POST|DELETE)\s*,\s*"([^"]+)"', table):
        out.add((m.group(1).lower(), m.group(2)))
    return out


def template_regex(path):
    return re.compile("^" + re.sub(r"\\\{[a-zA-Z]+\\\}", "[^/]+", re.escape(path)) + "$")


def main():
    spec_path, api_c, calls_dir = sys.argv[1:4]
    spec = yaml.safe_load(open(spec_path))
    problems = []
    ops = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "delete", "put", "patch"):
                ops[(method, path)] = op
    impl = routes_of(api_c)
    for m, p in sorted(impl - set(ops)):
        problems.append(f"route {m.upper()} {p} is served but not in the spec")
    for m, p in sorted(set(ops) - impl):
        problems.append(f"operation {m.upper()} {p} is in the spec but not served")

    protocol = spec.get("x-protocol-errors", {})
    resolver = jsonschema.RefResolver.from_schema(spec)
    covered = set()
    seen = set()
    calls = sorted(glob.glob(calls_dir + "/*.json"))
    if not calls:
        problems.append("no recorded calls")
    for f in calls:
        call = json.load(open(f))
        method, path, status = call["method"].lower(), call["path"].split("?")[0], str(call["status"])
        # HEAD is GET's answer without its body (RFC 9110, 9.3.2).
        head = method == "head"
        if head:
            method = "get"
            if call["body"] not in ("", None):
                problems.append(f"{f}: HEAD {path} -> {status}: a body")
        match = [k for k in ops if k[0] == method and template_regex(k[1]).match(path)]
        if not match:
            # Unknown paths and methods must still answer a JSON Error.
            # Without the key, a path under /api answers 401 before 404/405.
            guarded = status == "401" and (path == "/api" or path.startswith("/api/"))
            if status not in ("404", "405") and status not in protocol and not guarded:
                problems.append(f"{f}: {method.upper()} {path} -> {status}: no such operation")
                continue
            schema = {"$ref": "#/components/schemas/Error"}
        else:
            key = match[0]
            responses = {**protocol, **ops[key]["responses"]}
            if status not in responses:
                problems.append(f"{f}: {method.upper()} {path} -> {status}: status not documented")
                continue
            if status.startswith("2") and not head:
                covered.add(key)
            seen.add((key, status))
            resp = responses[status]
            if "$ref" in resp:
                resp = resolver.resolve(resp["$ref"])[1]
            content = resp.get("content")
            if content is None:
                if call["body"] not in ("", None):
                    problems.append(f"{f}: {status} must have no body")
                continue
            if "application/json" not in content:
                # Another type the response documents (text/plain,
                # image/png, the dashboard's text/html ...), by media type.
                got = call["contentType"].split(";")[0].strip().lower()
                if got not in (t.split(";")[0].strip().lower() for t in content):
                    problems.append(f"{f}: content type {call['contentType']}")
                continue
            schema = content["application/json"]["schema"]
        if not call["contentType"].startswith("application/json"):
            problems.append(f"{f}: content type {call['contentType']}, not JSON")
            continue
        if head:
            continue
        try:
            body = json.loads(call["body"])
        except ValueError as e:
            problems.append(f"{f}: body is not JSON: {e}")
            continue
        v = jsonschema.Draft202012Validator(schema, resolver=resolver)
        for err in v.iter_errors(body):
            where = "/".join(str(x) for x in err.absolute_path)
            problems.append(f"{f}: {method.upper()} {path} -> {status}: {where}: {err.message}")
    for m, p in sorted(set(ops) - covered):
        problems.append(f"operation {m.upper()} {p} was never called with success")
    for key in sorted(ops):
        for status, resp in sorted(ops[key]["responses"].items()):
            if (key, status) in seen:
                continue
            if "$ref" in resp:
                resp = resolver.resolve(resp["$ref"])[1]
            if "x-not-replayed" in resp or "x-not-replayed" in ops[key]["responses"][status]:
                continue
            problems.append(f"operation {key[0].upper()} {key[1]}: status {status} documented, never answered")
    for p in problems:
        print(p)
    print(f"openapi_check: {len(ops)} operations, {len(calls)} calls, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
