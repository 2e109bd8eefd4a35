#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run the examples of a man page's EXAMPLES section and compare outputs.

    man-examples.py PAGE [--print]
    man-examples.py PAGE --update LOG

Every .nf/.fi block of EXAMPLES is a shell session: a line "# CMD" (root's
prompt) or "$ CMD" is a command (a line ending in \\e continues on the next),
the lines after it, up to the next command or the block's end, are what it
prints (stdout and stderr).  "echo $?" prints the previous command's status.
Commands run in order, each in its own bash, in the caller's environment.
TAP on stdout: one line per command; the count of compared lines at the end.
--print prints what the commands printed instead; --update puts such a
session, from the "#| " lines of a test log, into the page.

The card's physical address is the firmware's choice (QEMU 7.2 put the
examples' BAR at 0x100000000, QEMU 10 at 0xfe80000000): with
MAN_EXAMPLES_BAR="PAGE_BASE REAL_BASE SIZE" every hex number of the output
inside [REAL_BASE, REAL_BASE + SIZE) is compared as the same offset from
PAGE_BASE, and the count of such numbers is said.
"""
import os
import re
import subprocess
import sys

rebased = 0


def rebase(line):
    """An address inside the real BAR, as the page's BAR would have it."""
    global rebased
    spec = os.environ.get('MAN_EXAMPLES_BAR')
    if not spec:
        return line
    page, real, size = (int(x, 0) for x in spec.split())

    def one(m):
        global rebased
        v = int(m.group(0), 16)
        if real <= v < real + size:
            rebased += 1
            return hex(v - real + page)
        return m.group(0)
    return re.sub(r'0x[0-9a-f]+', one, line)


def unroff(line):
    return (line.replace('\\(dq', '"').replace('\\-', '-').replace('\\e', '\\')
            .replace('\\&', ''))


def sessions(page):
    text = open(page).read().split('\n')
    try:
        start = text.index('.SH EXAMPLES')
    except ValueError:
        sys.exit(f'{page}: no EXAMPLES section')
    block = None
    for line in text[start + 1:]:
        if line.startswith('.SH '):
            break
        if line == '.nf':
            block = []
        elif line == '.fi':
            if block is not None:
                yield block
            block = None
        elif block is not None and line not in ('.RS', '.RE') and not line.startswith('.\\"'):
            block.append(unroff(line))


def commands(block):
    cmds, cur, cont = [], None, False
    for line in block:
        if cont:
            cur[0] += ' ' + line.strip()
            cont = cur[0].endswith('\\')
            if cont:
                cur[0] = cur[0][:-1].rstrip()
            continue
        m = re.match(r'^[#$] (.*)$', line)
        if m:
            cur = [m.group(1), []]
            cmds.append(cur)
            cont = cur[0].endswith('\\')
            if cont:
                cur[0] = cur[0][:-1].rstrip()
        elif cur is not None:
            cur[1].append(line)
    return cmds


def roff(line):
    line = line.replace('\\', '\\e')
    return '\\&' + line if line[:1] in ('.', "'") else line


def update(page, log):
    """Put the outputs of a --print session (lines "#| ..." of LOG) under
    the page's commands, which must be the same, in the same order."""
    printed = [l.split('#| ', 1)[1] if '#| ' in l else ''
               for l in open(log).read().split('\n') if '#|' in l]
    outs, cur = [], None
    for line in printed:
        if line.startswith('# '):
            cur = []
            outs.append((line[2:], cur))
        elif cur is not None:
            cur.append(line)
    text = open(page).read().split('\n')
    out, i, k, inex, block, cont = [], 0, 0, False, False, False
    while i < len(text):
        line = text[i]
        i += 1
        if line == '.SH EXAMPLES':
            inex = True
        elif line.startswith('.SH '):
            inex = False
        if inex and line == '.nf':
            block = True
        elif inex and line == '.fi':
            block = False
        if block and not cont and re.match(r'^[#$] ', line):
            out.append(line)
            cont = line.endswith('\\e')
            while cont:
                out.append(text[i])
                cont = text[i].endswith('\\e')
                i += 1
            cmd, lines = outs[k]
            k += 1
            out.extend(roff(l) for l in lines)
            # drop the page's old output
            while i < len(text) and not re.match(r'^[#$] ', text[i]) and text[i] != '.RE':
                i += 1
            continue
        out.append(line)
    if k != len(outs):
        sys.exit(f'{page}: {k} commands, the log has {len(outs)}')
    open(page, 'w').write('\n'.join(out))


def main():
    if len(sys.argv) == 4 and sys.argv[2] == '--update':
        update(sys.argv[1], sys.argv[3])
        return 0
    page = sys.argv[1]
    show = '--print' in sys.argv[2:]
    n, failed, lines, rc = 0, 0, 0, 0
    for block in sessions(page):
        for cmd, want in commands(block):
            n += 1
            if cmd == 'echo $?':
                got = [str(rc)]
            else:
                p = subprocess.run(['bash', '-c', cmd], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
                rc = p.returncode
                got = [rebase(g) for g in p.stdout.split('\n')]
                if got and got[-1] == '':
                    got.pop()
            if show:
                print(f'# {cmd}')
                for g in got:
                    print(g)
                continue
            lines += len(want)
            if got == want:
                print(f'ok {n} - {cmd} ({len(want)} lines as the page shows)')
            else:
                failed += 1
                print(f'not ok {n} - {cmd}')
                for w, g in zip(want + [''] * len(got), got + [''] * len(want)):
                    if w != g:
                        print(f'#   page: {w!r}\n#   got:  {g!r}')
                        break
    if not show:
        print(f'# {n} commands, {lines} output lines compared')
        if os.environ.get('MAN_EXAMPLES_BAR'):
            print(f'# {rebased} addresses in the card\'s BAR compared as offsets '
                  f'from the page\'s base')
        if not n:
            print('not ok 1 - the page has examples')
            failed += 1
        print(f'1..{max(n, 1)}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
