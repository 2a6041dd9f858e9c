#!/bin/sh
# gen.sh FILE... — print the list of unit tests found in FILEs as X(name) lines.
# A test is a line starting with TEST(name); see test.h.
set -e
sed -n 's/^TEST(\([A-Za-z0-9_]*\)).*/X(\1)/p' "$@" | sort -u
