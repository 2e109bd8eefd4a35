#!/bin/bash
# Kernel coding style: checkpatch.pl --no-tree and sparse (C=2) are clean.
. "$(dirname "$0")/../common"
cd "$TOP"
[ -x /usr/local/share/iopmem/checkpatch-6.12/checkpatch.pl ] || { fail "checkpatch.pl is installed (scripts/install-deps.sh)"; exit 1; }
if out=$(make -s checkpatch 2>&1); then pass "checkpatch.pl --strict is clean"; else fail "checkpatch.pl --strict is clean"; echo "$out" | grep -E '^[^ ]+:[0-9]+:' | sed 's/^/#   /'; fi
if out=$(make -s sparse 2>&1); then pass "sparse (C=2) is clean"; else fail "sparse (C=2) is clean"; echo "$out" | grep -E '(warning|error):' | sed 's/^/#   /'; fi
