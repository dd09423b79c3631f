// needs: hypeman/envfile.c
/*
 * Unit tests for hypeman/envfile.c. A small reader below follows the
 * EnvironmentFile= rules systemd documents (systemd.exec(5)): lines of
 * KEY=VALUE, '#'/';' comments, whitespace around unquoted values
 * dropped, single quotes literal, double quotes with backslash escapes
 * for " \ ` $ (any other backslash kept) and backslash-newline dropped.
 * The old rule (before systemd 239: a backslash in double quotes always
 * drops itself) is checked too, and /bin/sh reading the same file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "envfile.h"

#define MAX_VARS 64
#define MAX_LEN 4096

struct var {
	char key[MAX_LEN];
	char value[MAX_LEN];
	int has_value;
};

struct reader {
	struct var vars[MAX_VARS];
	int n;
	int old_escapes;	/* pre-239: "\x" in double quotes is "x" */
};

enum state {
	PRE_KEY, KEY, PRE_VALUE, VALUE, VALUE_ESC, SQ, DQ, DQ_ESC, COMMENT, COMMENT_ESC
};

static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_nl(int c)
{
	return c == '\n' || c == '\r';
}

/* Appends to the current variable's key or value. */
static void put(char *s, size_t *n, int c)
{
	if (*n + 1 < MAX_LEN)
		s[(*n)++] = c;
	s[*n] = '\0';
}

/* Ends a KEY=VALUE: trims trailing whitespace of the key (and of an unquoted value tail). */
static void push(struct reader *r, size_t key_ws, size_t val_ws)
{
	struct var *v = &r->vars[r->n];

	if (key_ws != (size_t)-1)
		v->key[key_ws] = '\0';
	if (val_ws != (size_t)-1)
		v->value[val_ws] = '\0';
	if (r->n + 1 < MAX_VARS)
		r->n++;
	memset(&r->vars[r->n], 0, sizeof(r->vars[r->n]));
}

static void read_envfile(struct reader *r, const char *text)
{
	enum state st = PRE_KEY;
	size_t nk = 0, nv = 0, key_ws = (size_t)-1, val_ws = (size_t)-1;
	struct var *v;
	const char *p;
	int c;

	r->n = 0;
	memset(&r->vars[0], 0, sizeof(r->vars[0]));
	for (p = text; *p; p++) {
		c = (unsigned char)*p;
		v = &r->vars[r->n];
		switch (st) {
		case PRE_KEY:
			if (c == '#' || c == ';')
				st = COMMENT;
			else if (!is_ws(c)) {
				st = KEY;
				nk = nv = 0;
				key_ws = val_ws = (size_t)-1;
				put(v->key, &nk, c);
			}
			break;
		case KEY:
			if (is_nl(c)) {
				st = PRE_KEY;	/* a line without '=' is dropped */
				memset(v, 0, sizeof(*v));
			} else if (c == '=') {
				st = PRE_VALUE;
				v->has_value = 1;
			} else {
				if (!is_ws(c))
					key_ws = (size_t)-1;
				else if (key_ws == (size_t)-1)
					key_ws = nk;
				put(v->key, &nk, c);
			}
			break;
		case PRE_VALUE:
			if (is_nl(c)) {
				st = PRE_KEY;
				push(r, key_ws, (size_t)-1);
			} else if (c == '\'')
				st = SQ;
			else if (c == '"')
				st = DQ;
			else if (c == '\\')
				st = VALUE_ESC;
			else if (!is_ws(c)) {
				st = VALUE;
				put(v->value, &nv, c);
			}
			break;
		case VALUE:
			if (is_nl(c)) {
				st = PRE_KEY;
				push(r, key_ws, val_ws);
			} else if (c == '\\') {
				st = VALUE_ESC;
				val_ws = (size_t)-1;
			} else {
				if (!is_ws(c))
					val_ws = (size_t)-1;
				else if (val_ws == (size_t)-1)
					val_ws = nv;
				put(v->value, &nv, c);
			}
			break;
		case VALUE_ESC:
			st = VALUE;
			if (!is_nl(c))
				put(v->value, &nv, c);
			break;
		case SQ:
			if (c == '\'')
				st = PRE_VALUE;
			else
				put(v->value, &nv, c);
			break;
		case DQ:
			if (c == '"')
				st = PRE_VALUE;
			else if (c == '\\')
				st = DQ_ESC;
			else
				put(v->value, &nv, c);
			break;
		case DQ_ESC:
			st = DQ;
			if (c == '\n')
				break;	/* continuation line */
			if (!r->old_escapes && !strchr("\"\\`$", c))
				put(v->value, &nv, '\\');
			put(v->value, &nv, c);
			break;
		case COMMENT:
			if (c == '\\')
				st = COMMENT_ESC;
			else if (is_nl(c))
				st = PRE_KEY;
			break;
		case COMMENT_ESC:
			st = is_nl(c) ? PRE_KEY : COMMENT;
			break;
		}
	}
	if (st != PRE_KEY && st != KEY && st != COMMENT && st != COMMENT_ESC)
		push(r, key_ws, st == VALUE ? val_ws : (size_t)-1);
}

static const char *lookup(const struct reader *r, const char *key)
{
	const char *found = NULL;
	int i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->vars[i].key, key) == 0)
			found = r->vars[i].value;	/* last one wins, as in systemd */
	return found;
}

/* The reader itself follows the documented examples. */
static void test_reader(void)
{
	struct reader r;

	memset(&r, 0, sizeof(r));
	read_envfile(&r, "# comment\n; another\n  A=plain  \nB = spaced value \t\n"
		"C='single \"q\" \\n'\nD=\"dq \\\" \\\\ \\$ \\` \\q\"\nE=\"multi\nline\"\n"
		"F=con\\\ntinued\nG=\"con\\\ntinued\"\nnot a var\nH=\nI=last");
	CHECK_STR(lookup(&r, "A"), "plain");
	CHECK_STR(lookup(&r, "B"), "spaced value");
	CHECK_STR(lookup(&r, "C"), "single \"q\" \\n");
	CHECK_STR(lookup(&r, "D"), "dq \" \\ $ ` \\q");
	CHECK_STR(lookup(&r, "E"), "multi\nline");
	CHECK_STR(lookup(&r, "F"), "continued");
	CHECK_STR(lookup(&r, "G"), "continued");
	CHECK_STR(lookup(&r, "H"), "");
	CHECK_STR(lookup(&r, "I"), "last");
	CHECK(lookup(&r, "not a var") == NULL);
	CHECK_INT(r.n, 9);

	r.old_escapes = 1;
	read_envfile(&r, "D=\"dq \\\" \\\\ \\$ \\` \\q\"\n");
	CHECK_STR(lookup(&r, "D"), "dq \" \\ $ ` q");
}

static const char *const values[] = {
	"",
	"plain",
	"with space",
	"  leading and trailing  ",
	" ",
	"tab\there\t",
	"single ' quote",
	"'fully single quoted'",
	"double \" quote",
	"\"",
	"\"\"",
	"$HOME ${HOME} $(id) $",
	"`id` `",
	"back\\slash",
	"\\",
	"\\\\",
	"trailing backslash\\",
	"\\n is not a newline",
	"\\\"",
	"line1\nline2",
	"\n",
	"ends with newline\n",
	"cr\rlf\r\n",
	"#not a comment",
	";not a comment",
	"a=b=c",
	"unicode \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	"mix \\\"$`'\n\t\\$ \\` end",
};

static char *build_file(void)
{
	static char file[16384];
	char key[16], *line;
	size_t n = 0;
	unsigned i;

	file[0] = '\0';
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		sprintf(key, "K%u", i);
		line = hm_envfile_line(key, values[i]);
		if (!CHECKF(line != NULL, "line for value %u", i))
			continue;
		CHECKF(strncmp(line, key, strlen(key)) == 0 && line[strlen(line) - 1] == '\n',
			"line shape for %u: %s", i, line);
		memcpy(file + n, line, strlen(line) + 1);
		n += strlen(line);
		free(line);
	}
	return file;
}

static void test_round_trip(void)
{
	static struct reader r;
	char key[16];
	char *file = build_file();
	unsigned i;
	int old;

	for (old = 0; old <= 1; old++) {
		r.old_escapes = old;
		read_envfile(&r, file);
		CHECK_INT(r.n, (int)(sizeof(values) / sizeof(values[0])));
		for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
			sprintf(key, "K%u", i);
			check_str_at(__FILE__, __LINE__, lookup(&r, key), values[i],
				old ? "old systemd" : "systemd");
		}
	}
}

/* The same file sourced by /bin/sh gives the same values. */
static void test_shell(void)
{
	char path[] = "/tmp/hm-envfile-XXXXXX", cmd[256], got[MAX_LEN];
	char *file = build_file();
	unsigned i;
	size_t n;
	FILE *f;
	int fd;

	if (access("/bin/sh", X_OK) != 0)
		return;
	fd = mkstemp(path);
	if (!CHECK(fd >= 0))
		return;
	CHECK(write(fd, file, strlen(file)) == (ssize_t)strlen(file));
	close(fd);
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(cmd, sizeof(cmd), "/bin/sh -c '. %s && printf %%s \"$K%u\"'", path, i);
		f = popen(cmd, "r");
		if (!CHECK(f != NULL))
			continue;
		n = fread(got, 1, sizeof(got) - 1, f);
		got[n] = '\0';
		pclose(f);
		check_str_at(__FILE__, __LINE__, got, values[i], "sh");
	}
	unlink(path);
}

static void test_lines_and_keys(void)
{
	char *line;

	line = hm_envfile_line("PATH", "/usr/bin:/bin");
	CHECK_STR(line, "PATH=\"/usr/bin:/bin\"\n");
	free(line);
	line = hm_envfile_line("E", "");
	CHECK_STR(line, "E=\"\"\n");
	free(line);
	line = hm_envfile_line("Q", "a\"b\\c$d`e'f\ng");
	CHECK_STR(line, "Q=\"a\\\"b\\\\c\\$d\\`e'f\ng\"\n");
	free(line);
	line = hm_envfile_line("lower_1", "x");
	CHECK_STR(line, "lower_1=\"x\"\n");
	free(line);

	/* Keys systemd could not read back give "" (nothing to write). */
	{
		static const char *const bad[] = { "", "A=B", "=", "A B", "A\nB", "A\t", "A\r", "#A", ";A" };
		unsigned i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			line = hm_envfile_line(bad[i], "x");
			CHECK_STR(line, "");
			free(line);
		}
	}
	/* '#' later in a key is fine. */
	line = hm_envfile_line("A#", "x");
	CHECK_STR(line, "A#=\"x\"\n");
	free(line);
}

int main(void)
{
	CHECK_CASE(test_reader());
	CHECK_CASE(test_round_trip());
	CHECK_CASE(test_shell());
	CHECK_CASE(test_lines_and_keys());
	return check_done();
}
