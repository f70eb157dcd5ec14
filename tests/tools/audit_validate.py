#!/usr/bin/env python3
"""Validate audit log lines against docs/audit.schema.json.

A small validator for the part of JSON Schema (2020-12) the schema uses:
type, const, enum, pattern, minimum, required, properties,
additionalProperties (false), items, oneOf and local $ref.  Python's
standard library has no JSON Schema module, and the SDK and the tests may
depend on nothing else.

    audit_validate.py SCHEMA LOG...

prints "EVENT: N valid" per event type, and for an invalid line its
number, the reason and the line; exits 1 if any line is invalid.
"""
import json
import re
import sys

TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool,
    "null": type(None),
}


def type_ok(value, name):
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def check(schema, value, root, where="$"):
    """Returns None when VALUE matches SCHEMA, else a reason."""
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        return check(root["$defs"][ref[len("#/$defs/"):]], value, root, where)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(value, n) for n in names):
            return f"{where}: {value!r} is not {'/'.join(names)}"
    if "const" in schema and value != schema["const"]:
        return f"{where}: {value!r} is not {schema['const']!r}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where}: {value!r} not in {schema['enum']}"
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        return f"{where}: {value!r} does not match {schema['pattern']}"
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        return f"{where}: {value!r} < {schema['minimum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                return f"{where}: missing {key!r}"
        props = schema.get("properties", {})
        for key, sub in value.items():
            if key in props:
                reason = check(props[key], sub, root, f"{where}.{key}")
                if reason:
                    return reason
            elif schema.get("additionalProperties") is False:
                return f"{where}: unexpected {key!r}"
    if isinstance(value, list) and "items" in schema:
        for k, item in enumerate(value):
            reason = check(schema["items"], item, root, f"{where}[{k}]")
            if reason:
                return reason
    if "oneOf" in schema:
        reasons = [check(s, value, root, where) for s in schema["oneOf"]]
        matches = reasons.count(None)
        if matches != 1:
            best = min((r for r in reasons if r), key=len, default="")
            return f"{where}: matches {matches} of oneOf ({best})"
    return None


def main():
    schema = json.load(open(sys.argv[1], encoding="utf-8"))
    counts, bad = {}, 0
    for log in sys.argv[2:]:
        for n, line in enumerate(open(log, encoding="utf-8"), 1):
            try:
                value = json.loads(line)
            except ValueError as e:
                print(f"{log}:{n}: not JSON ({e}): {line.rstrip()}")
                bad += 1
                continue
            reason = check(schema, value, schema)
            if reason:
                print(f"{log}:{n}: {reason}: {line.rstrip()}")
                bad += 1
            else:
                counts[value["event"]] = counts.get(value["event"], 0) + 1
    for event in sorted(counts):
        print(f"{event}: {counts[event]} valid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
