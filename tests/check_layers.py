#!/usr/bin/env python3
"""Checks that every #include "folder/..." of the sources stays within the layering declared in
the top-level CMakeLists.txt (spikechip_layer DEPS), which CMake writes to <build>/layers.txt:
a folder may include its own headers and those of the folders it depends on, nothing above.
Headers under spikechip/ are generated into the build tree (base's version and source dir,
report's embedded assets). With a third argument (docs/architecture.md), also checks that the
layer diagram there (the first ```mermaid block, edges "a --> b" = a includes b) has exactly
the edges of the table's transitive reduction. And that no source but base/json_text.hpp calls
nlohmann's .dump( (it throws on a string that is not UTF-8, as a path may be: use json_text).
  tests/check_layers.py <source dir> <build>/layers.txt [docs/architecture.md]
Exit 0 when clean; otherwise lists every offending include or edge and exits 1."""
import os
import re
import sys

src, table = sys.argv[1], sys.argv[2]
deps, exceptions = {}, set()
for line in open(table):
    key, _, rest = line.strip().partition(": ")
    if key == "exception":
        for e in rest.split(";"):
            a, _, b = e.strip().partition(" -> ")
            exceptions.add((a, b))
    elif key:
        deps[key] = set(rest.split()) | {key}
generated = {"spikechip/version.hpp": "base", "spikechip/source_dir.hpp": "base",
             "spikechip/report_assets.hpp": "report"}
bad = []
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
for folder, allowed in sorted(deps.items()):
    for dirpath, _, files in os.walk(os.path.join(src, folder)):
        for f in sorted(files):
            if not f.endswith((".cpp", ".hpp")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, src)
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                if ".dump(" in line and rel != os.path.join("base", "json_text.hpp"):
                    bad.append(f"{rel}:{n}: calls .dump(; use json_text (base/json_text.hpp), which does not "
                               "throw on a string that is not UTF-8")
                m = inc.match(line)
                if not m:
                    continue
                target = m.group(1)
                layer = generated.get(target, target.split("/")[0])
                if "/" not in target or layer not in deps or layer in allowed or (rel, target) in exceptions:
                    continue
                bad.append(f"{rel}:{n}: {folder}/ includes {target} ({layer}/ is not below {folder}/)")

def reduction(deps):
    """The direct edges: a -> d unless d is reachable from another dependency of a."""
    def reach(a, seen=None):
        seen = set() if seen is None else seen
        for d in deps.get(a, ()):
            if d != a and d not in seen:
                seen.add(d)
                reach(d, seen)
        return seen
    edges = set()
    for a, ds in deps.items():
        for d in ds - {a}:
            if not any(d in reach(e) for e in ds - {a, d}):
                edges.add((a, d))
    return edges


if len(sys.argv) > 3:
    text = open(sys.argv[3], encoding="utf-8").read()
    start = text.find("```mermaid")
    block = text[start:text.find("```", start + 3)] if start >= 0 else ""
    drawn = set(re.findall(r"^\s*(\w+)\s*-->\s*(\w+)\s*$", block, re.M))
    want = reduction(deps)
    for a, b in sorted(want - drawn):
        bad.append(f"{sys.argv[3]}: the layer diagram lacks {a} --> {b}")
    for a, b in sorted(drawn - want):
        bad.append(f"{sys.argv[3]}: the layer diagram draws {a} --> {b}, which is not a direct edge of the table")
if bad:
    print("\n".join(bad))
    print(f"{len(bad)} include(s) or diagram edge(s) disagree with the layering declared in CMakeLists.txt (spikechip_layer DEPS)")
    sys.exit(1)
print(f"layering ok: {len(deps)} folders" + (", diagram matches" if len(sys.argv) > 3 else ""))
