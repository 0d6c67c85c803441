#!/usr/bin/python3
"""A strict checker of the Prometheus text exposition format (0.0.4).

usage: promcheck.py FILE [REQUIRED_FAMILY...]

Checks, line by line: # HELP and # TYPE at most once per family and
before its samples; metric and label names; label values quoted with only
\\\\, \\" and \\n escapes; no duplicate label names; values that parse as
Go floats; every sample in the family announced last (samples of a family
contiguous); no duplicate series; counters named *_total; histograms with
_bucket series whose le bounds ascend and end with +Inf, cumulative counts
that never decrease, +Inf equal to _count, and a _sum.  Also that each
REQUIRED_FAMILY is present.  Prints the problems; exits 1 if any.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_value(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.match(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", s):
        raise ValueError(s)
    return float(s)


def parse_labels(s, i, line):
    """s[i] == '{'; returns (labels dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if s[i] == "}":
            return labels, i + 1
        m = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*").match(s, i)
        if not m:
            raise ValueError("bad label name")
        name = m.group(0)
        i = m.end()
        if s[i] != "=" or s[i + 1] != '"':
            raise ValueError("label without =\"")
        i += 2
        val = []
        while s[i] != '"':
            if s[i] == "\\":
                if s[i + 1] not in '\\"n':
                    raise ValueError("bad escape \\" + s[i + 1])
                val.append({"n": "\n"}.get(s[i + 1], s[i + 1]))
                i += 2
            elif s[i] == "\n":
                raise ValueError("newline in label value")
            else:
                val.append(s[i])
                i += 1
        i += 1
        if name in labels:
            raise ValueError("duplicate label " + name)
        labels[name] = "".join(val)
        if s[i] == ",":
            i += 1
        elif s[i] != "}":
            raise ValueError("expected , or }")


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) in ("histogram", "summary"):
            return name[: -len(suffix)]
    return name


def main():
    path, required = sys.argv[1], sys.argv[2:]
    problems = []
    types, helps, done, series = {}, {}, set(), set()
    current = None
    hist = {}  # (family, labels without le) -> list of (le, count)
    counts, sums = {}, {}
    text = open(path, encoding="utf-8").read()
    if text and not text.endswith("\n"):
        problems.append("the last line has no newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}"
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                if not NAME.match(fam):
                    problems.append(f"{where}: bad metric name {fam!r}")
                if fam in done or (fam != current and (fam in types or fam in helps)):
                    problems.append(f"{where}: {parts[1]} of {fam} after its samples or repeated")
                if current is not None and current != fam:
                    done.add(current)
                current = fam
                if parts[1] == "TYPE":
                    if fam in types:
                        problems.append(f"{where}: second TYPE for {fam}")
                    t = parts[3] if len(parts) > 3 else ""
                    if t not in TYPES:
                        problems.append(f"{where}: unknown type {t!r}")
                    types[fam] = t
                    if t == "counter" and not fam.endswith("_total"):
                        problems.append(f"{where}: counter {fam} is not named *_total")
                else:
                    if fam in helps:
                        problems.append(f"{where}: second HELP for {fam}")
                    helps[fam] = parts[3] if len(parts) > 3 else ""
            continue
        m = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*").match(line)
        if not m:
            problems.append(f"{where}: no metric name: {line!r}")
            continue
        name, i = m.group(0), m.end()
        labels = {}
        try:
            if i < len(line) and line[i] == "{":
                labels, i = parse_labels(line, i, where)
            if i >= len(line) or line[i] != " ":
                raise ValueError("expected a space before the value")
            rest = line[i + 1:].split(" ")
            if len(rest) not in (1, 2):
                raise ValueError("extra fields")
            value = parse_value(rest[0])
            if len(rest) == 2 and not re.match(r"^-?\d+$", rest[1]):
                raise ValueError("bad timestamp")
        except (ValueError, IndexError) as e:
            problems.append(f"{where}: {e}: {line!r}")
            continue
        fam = family_of(name, types)
        if fam not in types:
            problems.append(f"{where}: sample of {fam} without a TYPE")
        if fam != current:
            problems.append(f"{where}: sample of {fam} outside its family's block")
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            problems.append(f"{where}: duplicate series {name}{labels}")
        series.add(key)
        t = types.get(fam)
        if t == "counter" and (value < 0 or math.isnan(value)):
            problems.append(f"{where}: counter {name} is {value}")
        if t == "histogram":
            base = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            if name.endswith("_bucket"):
                if "le" not in labels:
                    problems.append(f"{where}: bucket without le")
                    continue
                hist.setdefault((fam, base), []).append((parse_value(labels["le"]), value, where))
            elif name.endswith("_count"):
                counts[(fam, base)] = value
            elif name.endswith("_sum"):
                sums[(fam, base)] = value
            else:
                problems.append(f"{where}: {name} in histogram {fam}")
    for (fam, base), buckets in hist.items():
        les = [b[0] for b in buckets]
        if les != sorted(les) or len(set(les)) != len(les):
            problems.append(f"{fam}{dict(base)}: le bounds not ascending")
        if not les or les[-1] != math.inf:
            problems.append(f"{fam}{dict(base)}: no +Inf bucket")
        vals = [b[1] for b in buckets]
        if any(b < a for a, b in zip(vals, vals[1:])):
            problems.append(f"{fam}{dict(base)}: bucket counts decrease")
        if (fam, base) not in counts:
            problems.append(f"{fam}{dict(base)}: no _count")
        elif vals and vals[-1] != counts[(fam, base)]:
            problems.append(f"{fam}{dict(base)}: +Inf bucket {vals[-1]} != _count {counts[(fam, base)]}")
        if (fam, base) not in sums:
            problems.append(f"{fam}{dict(base)}: no _sum")
    for r in required:
        if r not in types:
            problems.append(f"required family {r} is missing")
    for p in problems:
        print(p)
    print(f"promcheck: {len(types)} families, {len(series)} series, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
