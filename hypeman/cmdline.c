/*
 * hypeman-init: the hypeman.* kernel command line options (see cmdline.h).
 * Pure: state.c reads /proc/cmdline and logs what BAD reports.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += cmdline.o

#include <stddef.h>
#include <string.h>
#include "cmdline.h"

#define SPACE " \t\n"
#define STR_(x) #x
#define STR(x) STR_(x)

/* Whether the LEN bytes at S are exactly the string NAME. */
static bool is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(s, name, len) == 0;
}

/* A decimal number 0..MAX; -1 for anything else. */
static long number(const char *s, size_t len, long max)
{
	long v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return -1;
	}
	return v;
}

static void option(const char *word, size_t len, struct hm_cmdline *c,
		void (*bad)(const char *word, int len, const char *wanted))
{
	const char *eq = memchr(word, '=', len);
	const char *val = eq ? eq + 1 : word + len;
	size_t klen = eq ? (size_t)(eq - word) : len;
	size_t vlen = word + len - val;
	long v;

	if (is(word, klen, "hypeman.rescue")) {
		if (eq && is(val, vlen, "0"))
			c->rescue = false;
	} else if (is(word, klen, "hypeman.grace")) {
		v = number(val, vlen, HM_GRACE_MAX_S);
		if (v >= 0)
			c->grace_s = v;
		else if (bad)
			bad(word, (int)len, "0.." STR(HM_GRACE_MAX_S) " seconds");
	} else if (is(word, klen, "hypeman.pids_max")) {
		v = number(val, vlen, HM_PIDS_MAX_MAX);
		if (v > 0)
			c->pids_max = v;
		else if (bad)
			bad(word, (int)len, "1.." STR(HM_PIDS_MAX_MAX) " processes");
	} else if (is(word, klen, "hypeman.ca_timeout")) {
		v = number(val, vlen, HM_GRACE_MAX_S);
		if (v > 0)
			c->ca_timeout_s = v;
		else if (bad)
			bad(word, (int)len, "1.." STR(HM_GRACE_MAX_S) " seconds");
	} else if (is(word, klen, "hypeman.debug")) {
		if (eq && (is(val, vlen, "0") || is(val, vlen, "1")))
			c->debug = *val == '1';
		else if (bad)
			bad(word, (int)len, "0 or 1");
	}
}

void hm_cmdline_parse(const char *text, struct hm_cmdline *c,
		void (*bad)(const char *word, int len, const char *wanted))
{
	size_t len;

	for (text += strspn(text, SPACE); *text; text += len, text += strspn(text, SPACE)) {
		len = strcspn(text, SPACE);
		option(text, len, c, bad);
	}
}
