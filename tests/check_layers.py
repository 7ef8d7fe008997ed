#!/usr/bin/env python3
"""Checks that every #include "folder/..." of the sources stays within the layering declared in
the top-level CMakeLists.txt (spikechip_layer DEPS), which CMake writes to <build>/layers.txt:
a folder may include its own headers and those of the folders it depends on, nothing above.
Headers under spikechip/ are generated into the build tree (base's version and source dir,
report's embedded assets).
  tests/check_layers.py <source dir> <build>/layers.txt
Exit 0 when clean; otherwise lists every offending include and exits 1."""
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
                m = inc.match(line)
                if not m:
                    continue
                target = m.group(1)
                layer = generated.get(target, target.split("/")[0])
                if "/" not in target or layer not in deps or layer in allowed or (rel, target) in exceptions:
                    continue
                bad.append(f"{rel}:{n}: {folder}/ includes {target} ({layer}/ is not below {folder}/)")
if bad:
    print("\n".join(bad))
    print(f"{len(bad)} include(s) break the layering declared in CMakeLists.txt (spikechip_layer DEPS)")
    sys.exit(1)
print(f"layering ok: {len(deps)} folders")
