#!/usr/bin/env python3
"""Writes the seed corpus of attn-fuzz: every `// -----` piece of the specs in
examples/ and test/ that holds an attn op, one file per piece (named by a hash
of its text, so reruns add nothing new), without the lit comment lines.

  tools/attn-fuzz/make_corpus.py OUT_DIR
"""
import hashlib
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pieces():
    for directory in ("examples", "test"):
        for path in sorted((ROOT / directory).rglob("*.mlir")):
            for piece in path.read_text().split("// -----"):
                lines = [l for l in piece.splitlines()
                         if not l.lstrip().startswith("//")]
                text = "\n".join(lines).strip() + "\n"
                if "attn." in text:
                    yield text


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for text in pieces():
        name = hashlib.sha1(text.encode()).hexdigest()[:16] + ".mlir"
        (out / name).write_text(text)
        count += 1
    print(f"make_corpus: {count} seeds in {out}")


if __name__ == "__main__":
    main()
