// needs: hypeman/cmdline.c
/* Unit tests for hypeman/cmdline.c: the hypeman.* kernel command line options. */
#include <stdio.h>
#include <string.h>
#include "check.h"
#include "cmdline.h"

/* The words BAD was called with, space-separated, and what was wanted. */
static char bad_words[256], bad_wanted[64];

static void bad(const char *word, int len, const char *wanted)
{
	size_t n = strlen(bad_words);

	snprintf(bad_words + n, sizeof(bad_words) - n, "%s%.*s", n ? " " : "", len, word);
	snprintf(bad_wanted, sizeof(bad_wanted), "%s", wanted);
}

/* Parses TEXT over the defaults; the bad words land in bad_words. */
static struct hm_cmdline parse(const char *text)
{
	struct hm_cmdline c = { true, HM_GRACE_DEFAULT_S, 0, false, HM_CA_TIMEOUT_DEFAULT_S };

	bad_words[0] = '\0';
	hm_cmdline_parse(text, &c, bad);
	return c;
}

static void test_defaults_kept(void)
{
	struct hm_cmdline c;

	c = parse("");
	CHECK(c.rescue);
	CHECK_INT(c.grace_s, 10);
	c = parse("BOOT_IMAGE=/vmlinuz console=ttyS0 root=/dev/vda quiet\n");
	CHECK(c.rescue);
	CHECK_INT(c.grace_s, 10);
	CHECK_STR(bad_words, "");
	/* other hypeman.* words and near misses are not ours */
	c = parse("hypeman.rescue hypeman.rescue=1 hypeman.rescue=00 xhypeman.rescue=0 "
		"hypeman.rescue=0x hypeman.gracex=1 hypeman.graceful=5 hypeman.other=0 "
		"hypeman.debugx=1");
	CHECK(c.rescue);
	CHECK(!c.debug);
	CHECK_INT(c.grace_s, 10);
	CHECK_STR(bad_words, "");
}

static void test_options(void)
{
	struct hm_cmdline c;

	c = parse("console=ttyS0 hypeman.rescue=0 panic=-1");
	CHECK(!c.rescue);
	CHECK_INT(c.grace_s, 10);
	c = parse("hypeman.grace=3");
	CHECK(c.rescue);
	CHECK_INT(c.grace_s, 3);
	/* words split on spaces, tabs and newlines; the last grace wins */
	c = parse("\t hypeman.grace=7\thypeman.rescue=0\nhypeman.grace=0\n");
	CHECK(!c.rescue);
	CHECK_INT(c.grace_s, 0);
	c = parse("hypeman.grace=3600 hypeman.grace=0003");
	CHECK_INT(c.grace_s, 3);
	c = parse("hypeman.grace=3600");
	CHECK_INT(c.grace_s, 3600);
	CHECK(!c.debug);
	c = parse("quiet hypeman.debug=1");
	CHECK(c.debug);
	CHECK(c.rescue);
	c = parse("hypeman.debug=1 hypeman.debug=0");
	CHECK(!c.debug);
	CHECK_STR(bad_words, "");
}

static void test_bad_values(void)
{
	struct hm_cmdline c;

	/* a bad value keeps what was there and is reported, word by word */
	c = parse("hypeman.grace=5 hypeman.grace=3601 hypeman.grace= hypeman.grace=-1 "
		"hypeman.grace=+2 hypeman.grace=1s hypeman.grace=99999999999999999999 hypeman.grace");
	CHECK_INT(c.grace_s, 5);
	CHECK_STR(bad_words, "hypeman.grace=3601 hypeman.grace= hypeman.grace=-1 hypeman.grace=+2 "
		"hypeman.grace=1s hypeman.grace=99999999999999999999 hypeman.grace");
	CHECK_STR(bad_wanted, "0..3600 seconds");
	c = parse("hypeman.debug=1 hypeman.debug=2 hypeman.debug hypeman.debug= hypeman.debug=yes");
	CHECK(c.debug);
	CHECK_STR(bad_words, "hypeman.debug=2 hypeman.debug hypeman.debug= hypeman.debug=yes");
	CHECK_STR(bad_wanted, "0 or 1");
	/* BAD may be NULL */
	c.grace_s = 4;
	hm_cmdline_parse("hypeman.grace=x", &c, NULL);
	CHECK_INT(c.grace_s, 4);
}

static void test_ca_timeout(void)
{
	struct hm_cmdline c;

	c = parse("console=ttyS0");
	CHECK_INT(c.ca_timeout_s, 300);
	c = parse("hypeman.ca_timeout=5 hypeman.grace=2");
	CHECK_INT(c.ca_timeout_s, 5);
	CHECK_INT(c.grace_s, 2);
	c = parse("hypeman.ca_timeout=1 hypeman.ca_timeout=3600");
	CHECK_INT(c.ca_timeout_s, 3600);
	CHECK_STR(bad_words, "");
	c = parse("hypeman.ca_timeout=9 hypeman.ca_timeout=0 hypeman.ca_timeout=3601 hypeman.ca_timeout=");
	CHECK_INT(c.ca_timeout_s, 9);
	CHECK_STR(bad_words, "hypeman.ca_timeout=0 hypeman.ca_timeout=3601 hypeman.ca_timeout=");
	CHECK_STR(bad_wanted, "1..3600 seconds");
}

static void test_pids_max(void)
{
	struct hm_cmdline c;

	c = parse("console=ttyS0");
	CHECK_INT(c.pids_max, 0);
	c = parse("hypeman.pids_max=200 hypeman.grace=2");
	CHECK_INT(c.pids_max, 200);
	CHECK_INT(c.grace_s, 2);
	c = parse("hypeman.pids_max=1 hypeman.pids_max=4194304");
	CHECK_INT(c.pids_max, 4194304);
	CHECK_STR(bad_words, "");
	/* 0 is not a limit, and nothing over the kernel's PID_MAX_LIMIT */
	c = parse("hypeman.pids_max=64 hypeman.pids_max=0 hypeman.pids_max=4194305 "
		"hypeman.pids_max=max hypeman.pids_max= hypeman.pids_maxx=3");
	CHECK_INT(c.pids_max, 64);
	CHECK_STR(bad_words, "hypeman.pids_max=0 hypeman.pids_max=4194305 "
		"hypeman.pids_max=max hypeman.pids_max=");
	CHECK_STR(bad_wanted, "1..4194304 processes");
}

int main(void)
{
	CHECK_CASE(test_defaults_kept());
	CHECK_CASE(test_options());
	CHECK_CASE(test_bad_values());
	CHECK_CASE(test_pids_max());
	CHECK_CASE(test_ca_timeout());
	return check_done();
}
