#!/usr/bin/env python3
"""Checks that the fuzzer's dictionary holds every op and attribute mnemonic
of dialects/attn, so new syntax is fuzzed too.

  check_dictionary.py DIALECT_DIR attn.dict
"""
import pathlib
import re
import sys


def main():
    td = "".join(p.read_text() for p in pathlib.Path(sys.argv[1]).glob("*.td"))
    words = set(re.findall(r'^"(.*)"$', pathlib.Path(sys.argv[2]).read_text(), re.M))
    wanted = {f"attn.{m}" for m in re.findall(r'Attn_Op<"(\w+)"', td)}
    wanted |= {f"#attn.{m}" for m in
               re.findall(r'Attn_\w*Attr<"\w+",\s*"(\w+)"', td)}
    missing = sorted(wanted - words)
    for word in missing:
        print(f"missing from the dictionary: \"{word}\"")
    print(f"{len(wanted) - len(missing)} of {len(wanted)} mnemonics in the dictionary")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
