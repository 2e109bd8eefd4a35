/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the tests' programs share (p2pmap, p2pdmabuf): the byte pattern the
 * shell tests check in the card's host file, and strict number parsing.
 */
#ifndef _TESTS_PATTERN_H
#define _TESTS_PATTERN_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * The pattern: a function of the device offset of each 8-byte word, so a
 * range can be checked wherever it landed physically.
 */
static inline uint64_t pattern(uint64_t seed, uint64_t devoff)
{
	return (seed * 0x100000001b3ULL) ^ (devoff * 0x9e3779b97f4a7c15ULL);
}

/* a whole number (decimal, 0x hex or 0 octal), or exit 2 saying so */
static inline uint64_t num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "%s: bad number '%s'\n", program_invocation_short_name, s);
		exit(2);
	}
	return v;
}

#endif /* _TESTS_PATTERN_H */
