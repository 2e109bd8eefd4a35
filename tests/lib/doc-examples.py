#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print the shell examples of a document, as written, one per line.

    doc-examples.py README.md "On real hardware"
    doc-examples.py Documentation/deployment.rst

Markdown: the ```sh blocks of the section headed TITLE ("## TITLE" or a
deeper heading), up to the next heading of its level or above.  reStructuredText: every
literal block (a paragraph ending in "::", then indented lines).  In a block,
a line is a command; "# ..." lines are what a command prints (skipped), a
trailing "  # comment" is dropped, and a line ending in "\\" goes on with the
next.  A literal block whose first line is "# /PATH" is a file's contents:
printed as one line "FILE /PATH", then its lines prefixed with "| ".
Exit 1 if the document or the section has no example.
"""
import re
import sys


def md_blocks(text, title):
    lines = text.split('\n')
    start = level = None
    for i, line in enumerate(lines):
        m = re.match(r'^(#{2,4}) (.*)$', line)
        if m and m.group(2) == title:
            start, level = i, len(m.group(1))
            break
    if start is None:
        sys.exit(f'doc-examples: no section "{title}"')
    block = None
    for line in lines[start + 1:]:
        m = re.match(r'^(#{2,4}) ', line)
        if block is None and m and len(m.group(1)) <= level:
            break
        if block is None and line.strip() == '```sh':
            block = []
        elif block is not None and line.strip() == '```':
            yield block
            block = None
        elif block is not None:
            block.append(line)


def rst_blocks(text):
    lines = text.split('\n')
    i = 0
    while i < len(lines):
        if lines[i].rstrip().endswith('::') and not lines[i].lstrip().startswith('..'):
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            block = []
            indent = None
            while i < len(lines) and (not lines[i].strip() or
                                      re.match(r'^\s', lines[i])):
                if lines[i].strip():
                    n = len(lines[i]) - len(lines[i].lstrip())
                    indent = n if indent is None else min(indent, n)
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            if block:
                yield [b[indent:] if b.strip() else '' for b in block]
        else:
            i += 1


def emit(block):
    out = []
    if block and re.match(r'^# /\S+$', block[0]):
        out.append('FILE ' + block[0][2:])
        out.extend('| ' + b for b in block[1:])
        return out
    cmd = ''
    for line in block:
        if not line.strip() or line.lstrip().startswith('# '):
            continue
        line = re.sub(r'\s{2,}#.*$', '', line).rstrip()
        if line.endswith('\\'):
            cmd += line[:-1].rstrip() + ' '
            continue
        cmd += line.strip()
        out.append(cmd)
        cmd = ''
    if cmd:
        out.append(cmd.strip())
    return out


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.split('\n\n')[1])
    text = open(sys.argv[1]).read()
    if sys.argv[1].endswith('.md'):
        if len(sys.argv) != 3:
            sys.exit('doc-examples: a Markdown file needs a section title')
        blocks = md_blocks(text, sys.argv[2])
    else:
        blocks = rst_blocks(text)
    n = 0
    for block in blocks:
        for line in emit(block):
            print(line)
            n += 1
    return 0 if n else 1


if __name__ == '__main__':
    sys.exit(main())
