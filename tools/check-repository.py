#!/usr/bin/env python3
"""Checks what the compiler and the formatter do not, for `make check`:

- every Swift target of each package (., bench/, Fuzz/) declares exactly the modules its files import;
- every link between files of the repository, and every `docs/….md#anchor` and `§N` reference in the
  code, points at a file and a heading that exist inside the repository, and no comment cites the
  contract the old way (SPEC §N);
- the README stays at most 300 lines.

Prints one line per problem and exits 1 when there is any. `--repo DIR` checks another checkout.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if "--repo" in sys.argv:  # another checkout (the checker's own tests)
    REPO = os.path.abspath(sys.argv[sys.argv.index("--repo") + 1])
PACKAGES = [".", "bench", "Fuzz"]
# Modules of the toolchain and the system, which no Package.swift declares.
SYSTEM_MODULES = {"Foundation", "FoundationEssentials", "Glibc", "Musl", "Dispatch", "Synchronization",
                  "Testing", "XCTest", "_Concurrency", "Darwin"}
README_LIMIT = 300

problems = []


def tracked_files():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [f for f in out.splitlines() if os.path.exists(os.path.join(REPO, f))]


def check_imports():
    for package in PACKAGES:
        root = os.path.join(REPO, package)
        if not os.path.exists(os.path.join(root, "Package.swift")):
            continue
        # A scratch path of its own: the package's .build is locked while `swift test` runs.
        with tempfile.TemporaryDirectory() as scratch:
            dump = subprocess.run(["swift", "package", "--scratch-path", scratch, "dump-package"], cwd=root,
                                  capture_output=True, text=True)
        if dump.returncode != 0:
            problems.append(f"{package}/Package.swift: swift package dump-package failed: {dump.stderr.strip()}")
            continue
        manifest = json.loads(dump.stdout)
        # A dependency on an executable orders the build (tests run the binary); it is not imported.
        executables = {t["name"] for t in manifest["targets"] if t["type"] == "executable"}
        for target in manifest["targets"]:
            if target["type"] not in ("regular", "executable", "test"):
                continue
            default = "Tests" if target["type"] == "test" else "Sources"
            path = os.path.normpath(os.path.join(root, target.get("path") or f"{default}/{target['name']}"))
            files = [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.endswith(".swift")]
            if not files:
                continue  # a C target
            declared = set()
            for dependency in target["dependencies"]:
                kind, value = next(iter(dependency.items()))
                declared.add(value[0])
            imported = {}
            for file in files:
                for line in open(file, encoding="utf-8"):
                    match = re.match(r"(?:@testable\s+|@_exported\s+)?import\s+(?:\w+\s+)?(\w+)", line)
                    if match and match.group(1) not in SYSTEM_MODULES:
                        imported.setdefault(match.group(1), os.path.relpath(file, REPO))
            name = f"{os.path.relpath(os.path.join(root, 'Package.swift'), REPO)} target {target['name']}"
            for module in sorted(set(imported) - declared):
                problems.append(f"{imported[module]}: imports {module}, which {name} does not declare")
            for module in sorted(declared - set(imported) - executables):
                problems.append(f"{name}: declares {module}, which none of its files imports")


def slug(heading):
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


anchors_cache = {}


def anchors(path):
    if path not in anchors_cache:
        found, fenced = set(), False
        for line in open(path, encoding="utf-8"):
            if line.startswith("```"):
                fenced = not fenced
            if fenced:
                continue
            match = re.match(r"#{1,6}\s+(.*)", line)
            if match:
                base, n = slug(match.group(1)), 1
                name = base
                while name in found:
                    name, n = f"{base}-{n}", n + 1
                found.add(name)
        anchors_cache[path] = found
    return anchors_cache[path]


def check_target(source, target, base=None):
    """`target` is a link from `source`: a path relative to it (or to `base`), optionally with #anchor."""
    if re.match(r"[a-z]+:", target) or target.startswith("//"):
        return
    path, _, anchor = target.partition("#")
    directory = os.path.join(REPO, base) if base is not None else os.path.dirname(os.path.join(REPO, source))
    full = os.path.normpath(os.path.join(directory, path)) if path else os.path.join(REPO, source)
    if os.path.commonpath([full, REPO]) != REPO:
        problems.append(f"{source}: link to {target}: outside the repository, which a clone does not have")
        return
    if not os.path.exists(full):
        problems.append(f"{source}: link to {target}: no such file")
        return
    if anchor and full.endswith(".md") and anchor not in anchors(full):
        problems.append(f"{source}: link to {target}: no heading #{anchor} in {os.path.relpath(full, REPO)}")


def check_links(files):
    behaviour = os.path.join(REPO, "docs/behaviour.md")
    sections = set(re.findall(r"^## (\d+)\. ", open(behaviour, encoding="utf-8").read(), re.M)) \
        if os.path.exists(behaviour) else set()
    for file in files:
        if file.startswith(("Sources/CJsonnet/jsonnet-", "Fuzz/corpus/", "tools/check-repository.py",
                            "Tests/EndToEndTests/RepositoryCheckTests.swift")):
            continue
        if not file.endswith((".md", ".swift", ".c", ".h", ".cpp", ".sh", ".py", ".jsonnet", ".yml", ".service",
                              "Makefile")):
            continue
        try:
            text = open(os.path.join(REPO, file), encoding="utf-8").read()
        except UnicodeDecodeError:
            continue
        if "SPEC §" in text:
            problems.append(f"{file}: cites the contract as SPEC §N; link docs/behaviour.md#… instead")
        for number in re.findall(r"§\s?(\d+)", text):
            if number not in sections:
                problems.append(f"{file}: §{number} is not a numbered section of docs/behaviour.md")
        if file.endswith(".md"):
            prose = re.sub(r"```.*?```", "", text, flags=re.S)
            prose = re.sub(r"`[^`\n]*`", "", prose)
            for target in re.findall(r"\]\(([^)\s]+)\)", prose):
                check_target(file, target)
        else:
            for target in re.findall(r"\b(docs/[\w\-]+\.md(?:#[\w\-]+)?)", text):
                check_target(file, target, base="")


def check_readme():
    lines = sum(1 for _ in open(os.path.join(REPO, "README.md"), encoding="utf-8"))
    if lines > README_LIMIT:
        problems.append(f"README.md: {lines} lines, more than {README_LIMIT}; move detail into docs/")


files = tracked_files()
check_links(files)
check_readme()
if "--no-imports" not in sys.argv:
    check_imports()
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
