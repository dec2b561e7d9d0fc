#!/usr/bin/env python3
"""Hostile plans for bench/validate.sh: inputs whose validation time or memory would grow
faster than their size if a pass were quadratic or recursive.

Usage: gen_hostile.py KIND N > plan.yaml
  unknown-keys N   a valid plan plus N unknown top-level keys (N errors)
  scenarios N      a valid plan with N scenarios (no error)
  bad-scenarios N  N scenarios, each with an unknown step field (N errors)
  scenarios-1vu N  N scenarios in a 1-VU stage (N - 1 warnings: no VU for the scenario)
  complex-keys N   N levels of `? ` complex keys on one line
  block-seq N      N levels of block-style `- ` on one line
  flow-seq N       N levels of flow-style `[` … `]`
  deep-json N      a request whose `json:` body is nested N mappings deep
  long-line N      one line of N characters with an error at its end
  big N            a plan padded with comments to N bytes (past the cap: an error)
"""
import sys

HEAD = """name: hostile
environments:
  local: { mock: true }
stages:
  smoke: { vus: 100000, duration: 1s }
"""



def scenario(i, extra=""):
    url = "{{ env.base_url }}/s%d" % i
    return f'  s{i}:\n    steps:\n      - request: {{ url: "{url}"{extra} }}\n'


def main():
    kind, n = sys.argv[1], int(sys.argv[2])
    out = sys.stdout
    if kind == "unknown-keys":
        out.write(HEAD + "scenarios:\n" + scenario(0))
        for i in range(n):
            out.write(f"unknown_{i}: {i}\n")
    elif kind == "scenarios":
        out.write(HEAD + "scenarios:\n")
        for i in range(n):
            out.write(scenario(i))
    elif kind == "scenarios-1vu":
        out.write(HEAD.replace("vus: 100000", "vus: 1") + "scenarios:\n")
        for i in range(n):
            out.write(scenario(i))
    elif kind == "bad-scenarios":
        out.write(HEAD + "scenarios:\n")
        for i in range(n):
            out.write(scenario(i, ", nmae: x"))
    elif kind == "complex-keys":
        out.write("v:\n  " + "? " * n + "x\n")
    elif kind == "block-seq":
        out.write("v:\n  " + "- " * n + "x\n")
    elif kind == "flow-seq":
        out.write("v: " + "[" * n + "]" * n + "\n")
    elif kind == "deep-json":
        body = '{"a": ' * n + "1" + "}" * n
        out.write(HEAD + "scenarios:\n  s:\n    steps:\n")
        out.write('      - request: { url: "{{ env.base_url }}/", method: POST, json: ' + body + " }\n")
    elif kind == "long-line":
        out.write(HEAD + "scenarios:\n  s:\n    steps:\n")
        out.write('      - request: { url: "{{ env.base_url }}/' + "a" * n + '", tiemout: 1s }\n')
    elif kind == "big":
        out.write(HEAD + "scenarios:\n" + scenario(0))
        line = "# " + "x" * 77 + "\n"
        written = len(HEAD) + 200
        while written < n:
            out.write(line)
            written += len(line)
    else:
        sys.exit(f"unknown kind {kind}")


main()
