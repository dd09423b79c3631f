/*
 * Resolve which module files to load at boot, and in what order, from
 * depmod's modules.dep/.softdep/.alias/.builtin (see moddep.h).
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += moddep.o
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>
#include "moddep.h"

/* A module chain deeper than this is a broken file, not a kernel. */
#define MAX_DEPTH 256

/*
 * One parsed line.  modules.dep: A = path, its deps are words[W..W+N).
 * modules.softdep: A = module, B = the name it wants, POST = after it.
 * modules.alias: A = alias, B = module.  modules.builtin: A = path.
 * modules.dep and .builtin: B = the module's name in A, NLEN bytes.
 */
struct line {
	const char *a, *b;
	int w, n, post;
	size_t nlen;	/* modules.dep, .builtin: B = the module name in A */
};

struct table {
	struct line *v;
	int n, cap;
};

struct hm_moddb {
	char *copy[4];		/* our writable copies of the texts */
	struct table dep, soft, alias, builtin;
	const char **words;	/* modules.dep dependency paths */
	int nwords, capwords;
};

struct ctx {
	const struct hm_moddb *db;
	struct hm_modplan *plan;
	int *item_dep;		/* dep index of each plan item, or -1 */
	char *seen, *required;	/* per modules.dep line */
	int *alt, n_alt;	/* per modules.dep line: its alternatives group */
	int cap_items, cap_dep, cap_missing, cap_builtin;
};

/* Make room for element N of an array of CAP elements of SIZE bytes.
 * Returns the (maybe moved) array, or NULL with the old one still valid. */
static void *grow(void *v, int *cap, int n, size_t size)
{
	int ncap;

	if (n < *cap)
		return v;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap < 0 || (size_t)ncap > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	v = realloc(v, ncap * size);
	if (v)
		*cap = ncap;
	return v;
}

static struct line *new_line(struct table *t)
{
	struct line *v = grow(t->v, &t->cap, t->n, sizeof(*v));

	if (!v)
		return NULL;
	t->v = v;
	memset(&v[t->n], 0, sizeof(*v));
	return &v[t->n++];
}

static int add_word(struct hm_moddb *db, const char *w)
{
	const char **v = grow(db->words, &db->capwords, db->nwords, sizeof(*v));

	if (!v)
		return -1;
	db->words = v;
	v[db->nwords++] = w;
	return 0;
}

/* '-' and '_' are the same in module names (the kernel uses '_') */
static int name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++) {
		if (a[i] == b[i])
			continue;
		if ((a[i] != '-' && a[i] != '_') || (b[i] != '-' && b[i] != '_'))
			return 0;
	}
	return 1;
}

/* "kernel/fs/ext4/ext4.ko[.xz]" -> "ext4" (pointer into PATH, *LEN) */
static const char *path_name(const char *path, size_t *len)
{
	const char *base = strrchr(path, '/');
	const char *p;

	base = base ? base + 1 : path;
	for (p = base; (p = strstr(p, ".ko")) != NULL; p++)
		if (p[3] == '\0' || p[3] == '.')
			break;
	*len = p ? (size_t)(p - base) : strlen(base);
	return base;
}

static char *next_word(char **s)
{
	char *w = *s + strspn(*s, " \t\r");
	char *e;

	if (!*w)
		return NULL;
	e = w + strcspn(w, " \t\r");
	if (*e)
		*e++ = '\0';
	*s = e;
	return w;
}

/* "path: dep dep ..." */
static int parse_dep(struct hm_moddb *db, char *s)
{
	char *colon = strchr(s, ':');
	struct line *l;
	char *w;

	if (!colon)
		return 0;
	*colon = '\0';
	l = new_line(&db->dep);
	if (!l)
		return -1;
	l->a = next_word(&s);
	if (l->a)
		l->b = path_name(l->a, &l->nlen);
	l->w = db->nwords;
	s = colon + 1;
	while ((w = next_word(&s)) != NULL) {
		if (add_word(db, w) < 0)
			return -1;
		l->n++;
	}
	if (!l->a)
		db->dep.n--;
	return 0;
}

/* "softdep MOD [pre:] a b [post: c d]" */
static int parse_softdep(struct hm_moddb *db, char *s)
{
	char *w = next_word(&s), *mod = next_word(&s);
	struct line *l;
	int post = 0;

	if (!w || strcmp(w, "softdep") != 0 || !mod)
		return 0;
	while ((w = next_word(&s)) != NULL) {
		if (strcmp(w, "pre:") == 0 || strcmp(w, "post:") == 0) {
			post = w[1] == 'o';
			continue;
		}
		l = new_line(&db->soft);
		if (!l)
			return -1;
		l->a = mod;
		l->b = w;
		l->post = post;
	}
	return 0;
}

/* "alias NAME MODULE" */
static int parse_alias(struct hm_moddb *db, char *s)
{
	char *w = next_word(&s), *name = next_word(&s), *mod = next_word(&s);
	struct line *l;

	if (!w || strcmp(w, "alias") != 0 || !mod)
		return 0;
	l = new_line(&db->alias);
	if (!l)
		return -1;
	l->a = name;
	l->b = mod;
	return 0;
}

/* "kernel/path/foo.ko" */
static int parse_builtin(struct hm_moddb *db, char *s)
{
	char *w = next_word(&s);
	struct line *l;

	if (!w)
		return 0;
	l = new_line(&db->builtin);
	if (!l)
		return -1;
	l->a = w;
	l->b = path_name(w, &l->nlen);
	return 0;
}

/* Copy TEXT into *COPY and feed each non-comment line to FN. */
static int parse(struct hm_moddb *db, char **copy, const char *text,
		int (*fn)(struct hm_moddb *, char *))
{
	char *s, *nl;

	if (!text)
		return 0;
	*copy = strdup(text);
	if (!*copy)
		return -1;
	for (s = *copy; s; s = nl) {
		nl = strchr(s, '\n');
		if (nl)
			*nl++ = '\0';
		s += strspn(s, " \t");
		if (*s && *s != '#' && fn(db, s) < 0)
			return -1;
	}
	return 0;
}

/* The line of table T (modules.dep, modules.builtin) whose file is module
 * NAME, or -1. */
static int find_name(const struct table *t, const char *name, size_t len)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (name_eq(t->v[i].b, t->v[i].nlen, name, len))
			return i;
	return -1;
}

static int find_dep_name(const struct hm_moddb *db, const char *name, size_t len)
{
	return find_name(&db->dep, name, len);
}

static int find_dep_path(const struct hm_moddb *db, const char *path)
{
	int i;

	for (i = 0; i < db->dep.n; i++)
		if (strcmp(db->dep.v[i].a, path) == 0)
			return i;
	return -1;
}

static int is_builtin(const struct hm_moddb *db, const char *name, size_t len)
{
	return find_name(&db->builtin, name, len) >= 0;
}

/* malloc'ed copy of NAME with '-' -> '_' */
static char *norm_name(const char *name, size_t len)
{
	char *s = strndup(name, len);
	char *p;

	for (p = s; p && *p; p++)
		if (*p == '-')
			*p = '_';
	return s;
}

static int add_string(char ***v, int *n, int *cap, char *s)
{
	char **nv;

	if (!s)
		return -1;
	nv = grow(*v, cap, *n, sizeof(*nv));
	if (!nv) {
		free(s);
		return -1;
	}
	*v = nv;
	nv[(*n)++] = s;
	return 0;
}

static int add_builtin(struct ctx *c, const char *name, size_t len)
{
	struct hm_modplan *p = c->plan;
	int i;

	for (i = 0; i < p->n_builtin; i++)
		if (name_eq(p->builtin[i], strlen(p->builtin[i]), name, len))
			return 0;
	return add_string(&p->builtin, &p->n_builtin, &c->cap_builtin,
			norm_name(name, len));
}

/* Append PATH (line DEP of modules.dep, or -1) unless already planned. */
static int add_item(struct ctx *c, const char *path, int dep)
{
	struct hm_modplan *p = c->plan;
	struct hm_modload *v;
	int *d, i;
	const char *name;
	size_t len;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->items[i].path, path) == 0)
			return 0;
	v = grow(p->items, &c->cap_items, p->n, sizeof(*v));
	if (!v)
		return -1;
	p->items = v;
	d = grow(c->item_dep, &c->cap_dep, p->n, sizeof(*d));
	if (!d)
		return -1;
	c->item_dep = d;
	name = path_name(path, &len);
	v[p->n].path = strdup(path);
	v[p->n].name = norm_name(name, len);
	v[p->n].optional = false;
	v[p->n].alt = 0;
	d[p->n] = dep;
	p->n++;	/* counted now so that free() sees both strings */
	return v[p->n - 1].path && v[p->n - 1].name ? 0 : -1;
}

static int resolve(struct ctx *c, const char *name, size_t len, int depth,
		int *only);

static int softdeps(struct ctx *c, const char *name, size_t len, int post,
		int depth)
{
	const struct line *l;
	int i, only;

	for (i = 0; i < c->db->soft.n; i++) {
		l = &c->db->soft.v[i];
		if (l->post != post || !name_eq(l->a, strlen(l->a), name, len))
			continue;
		if (resolve(c, l->b, strlen(l->b), depth, &only) < 0)
			return -1;
	}
	return 0;
}

/* Plan modules.dep line I: pre softdeps, deps, itself, post softdeps. */
static int visit(struct ctx *c, int i, int depth)
{
	const struct line *l = &c->db->dep.v[i];
	const char *name, *p;
	size_t len;
	int k, j;

	if (c->seen[i])
		return 0;
	if (depth > MAX_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	/* marked before recursing: softdeps may form cycles */
	c->seen[i] = 1;
	name = path_name(l->a, &len);
	if (softdeps(c, name, len, 0, depth + 1) < 0)
		return -1;
	/* depmod lists what must be loaded first last */
	for (k = l->n - 1; k >= 0; k--) {
		p = c->db->words[l->w + k];
		j = find_dep_path(c->db, p);
		if (j >= 0 ? visit(c, j, depth + 1) : add_item(c, p, -1))
			return -1;
	}
	if (add_item(c, l->a, i) < 0)
		return -1;
	return softdeps(c, name, len, 1, depth + 1);
}

/* A new alternatives group when alias NAME names several modules in
 * modules.dep (crypto-crc32c: crc32c-intel and crc32c_generic), else 0. */
static int alternatives(struct ctx *c, const char *name, size_t len)
{
	const struct line *l;
	int i, n = 0;

	for (i = 0; i < c->db->alias.n && n < 2; i++) {
		l = &c->db->alias.v[i];
		if (name_eq(l->a, strlen(l->a), name, len)
		 && find_dep_name(c->db, l->b, strlen(l->b)) >= 0)
			n++;
	}
	return n < 2 ? 0 : ++c->n_alt;
}

/*
 * Plan NAME: builtin, a module, or an alias.  Returns 0, 1 when NAME is
 * found nowhere, -1 on error.  *ONLY: the modules.dep line when NAME is
 * exactly one module, else -1.
 */
static int resolve(struct ctx *c, const char *name, size_t len, int depth,
		int *only)
{
	const struct line *l;
	int i, j, found = 0, group;

	*only = -1;
	/* modules.dep first: the boot set is all there, and it is the
	 * short table */
	j = find_dep_name(c->db, name, len);
	if (j >= 0) {
		*only = j;
		return visit(c, j, depth);
	}
	if (is_builtin(c->db, name, len))
		return add_builtin(c, name, len);
	group = alternatives(c, name, len);
	for (i = 0; i < c->db->alias.n; i++) {
		l = &c->db->alias.v[i];
		if (!name_eq(l->a, strlen(l->a), name, len))
			continue;
		j = find_dep_name(c->db, l->b, strlen(l->b));
		if (j >= 0 && group && !c->alt[j])
			c->alt[j] = group;
		if (j < 0 && is_builtin(c->db, l->b, strlen(l->b))) {
			if (add_builtin(c, l->b, strlen(l->b)) < 0)
				return -1;
			found++;
			continue;
		}
		if (j < 0)
			continue;
		if (visit(c, j, depth) < 0)
			return -1;
		*only = found++ ? -1 : j;
	}
	return !found;
}

/* A requested module and what modules.dep says it needs must load. */
static void mark_required(struct ctx *c, int i)
{
	const struct line *l = &c->db->dep.v[i];
	int k, j;

	c->required[i] = 1;
	for (k = 0; k < l->n; k++) {
		j = find_dep_path(c->db, c->db->words[l->w + k]);
		if (j >= 0)
			c->required[j] = 1;
	}
}

static int plan_all(struct ctx *c, char *const *wanted, int n_wanted)
{
	struct hm_modplan *p = c->plan;
	int i, r, only;

	for (i = 0; i < n_wanted; i++) {
		if (!wanted[i] || !*wanted[i])
			continue;
		r = resolve(c, wanted[i], strlen(wanted[i]), 0, &only);
		if (r < 0)
			return -1;
		if (r > 0 && add_string(&p->missing, &p->n_missing,
				&c->cap_missing, strdup(wanted[i])) < 0)
			return -1;
		if (only >= 0)
			mark_required(c, only);
	}
	for (i = 0; i < p->n; i++) {
		p->items[i].optional = c->item_dep[i] >= 0
				&& !c->required[c->item_dep[i]];
		p->items[i].alt = p->items[i].optional ? c->alt[c->item_dep[i]] : 0;
	}
	return 0;
}

struct hm_moddb *hm_moddb_new(const char *dep, const char *softdep,
		const char *alias, const char *builtin)
{
	struct hm_moddb *db = calloc(1, sizeof(*db));

	if (db && (parse(db, &db->copy[0], dep, parse_dep) < 0
	 || parse(db, &db->copy[1], softdep, parse_softdep) < 0
	 || parse(db, &db->copy[2], alias, parse_alias) < 0
	 || parse(db, &db->copy[3], builtin, parse_builtin) < 0)) {
		hm_moddb_free(db);
		errno = ENOMEM;
		return NULL;
	}
	return db;
}

void hm_moddb_free(struct hm_moddb *db)
{
	int i;

	if (!db)
		return;
	for (i = 0; i < 4; i++)
		free(db->copy[i]);
	free(db->dep.v);
	free(db->soft.v);
	free(db->alias.v);
	free(db->builtin.v);
	free(db->words);
	free(db);
}

int hm_moddb_plan(const struct hm_moddb *db, char *const *wanted, int n_wanted,
		struct hm_modplan *plan)
{
	struct ctx c;
	int ret = -1, e;

	memset(plan, 0, sizeof(*plan));
	memset(&c, 0, sizeof(c));
	c.db = db;
	c.plan = plan;
	c.seen = calloc(db->dep.n + 1, 1);
	c.required = calloc(db->dep.n + 1, 1);
	c.alt = calloc(db->dep.n + 1, sizeof(int));
	if (c.seen && c.required && c.alt)
		ret = plan_all(&c, wanted, n_wanted);
	if (ret < 0) {
		e = errno;
		hm_modplan_free(plan);
		errno = e ? e : ENOMEM;
	}
	free(c.item_dep);
	free(c.seen);
	free(c.required);
	free(c.alt);
	return ret;
}

int hm_modplan_build(const char *dep, const char *softdep, const char *alias,
		const char *builtin, char *const *wanted, int n_wanted,
		struct hm_modplan *plan)
{
	struct hm_moddb *db = hm_moddb_new(dep, softdep, alias, builtin);
	int ret;

	if (!db) {
		memset(plan, 0, sizeof(*plan));
		return -1;
	}
	ret = hm_moddb_plan(db, wanted, n_wanted, plan);
	hm_moddb_free(db);
	return ret;
}

static void free_strings(char **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void hm_modplan_free(struct hm_modplan *plan)
{
	int i;

	for (i = 0; i < plan->n; i++) {
		free(plan->items[i].path);
		free(plan->items[i].name);
	}
	free(plan->items);
	free_strings(plan->missing, plan->n_missing);
	free_strings(plan->builtin, plan->n_builtin);
	memset(plan, 0, sizeof(*plan));
}

/*
 * FN(pattern, ARG) for each modules.alias line of DB whose module is NAME
 * ('-' == '_'); stops at FN's first nonzero return and returns it (0 when
 * none was). Patterns of 512 bytes or more are left out (device patterns
 * run to a few hundred bytes: dmi:...).
 */
static int each_alias_of(const struct hm_moddb *db, const char *name,
		int (*fn)(const char *pattern, const void *arg), const void *arg)
{
	const struct line *l;
	size_t len = strlen(name);
	int i, r;

	for (i = 0; i < db->alias.n; i++) {
		l = &db->alias.v[i];
		if (!name_eq(l->b, strlen(l->b), name, len) || strlen(l->a) >= 512)
			continue;
		r = fn(l->a, arg);
		if (r)
			return r;
	}
	return 0;
}

/* A device's modalias is "BUS:..." ("devname:" names a /dev node, not a
 * device: kmod's static nodes). */
static int is_device_pattern(const char *pattern, const void *arg)
{
	(void)arg;
	return strchr(pattern, ':') != NULL && strncmp(pattern, "devname:", 8) != 0;
}

static int is_fs_pattern(const char *pattern, const void *fstype)
{
	return strncmp(pattern, "fs-", 3) == 0
		&& (!fstype || strcmp(pattern + 3, fstype) == 0);
}

struct devices {
	char *const *modaliases;
	int n;
};

static int pattern_matches(const char *pattern, const void *arg)
{
	const struct devices *d = arg;
	int i;

	for (i = 0; i < d->n; i++)
		if (fnmatch(pattern, d->modaliases[i], 0) == 0)
			return 1;
	return 0;
}

struct buses {
	char **v;
	int cap, *n;
};

static int add_bus(const char *pattern, const void *arg)
{
	const struct buses *b = arg;
	/* "acpi*:LNRO0005:*" is on bus acpi too */
	size_t len = strcspn(pattern, ":*?[");
	int i;

	if (!is_device_pattern(pattern, NULL))
		return 0;
	for (i = 0; i < *b->n; i++)
		if (strlen(b->v[i]) == len && memcmp(b->v[i], pattern, len) == 0)
			return 0;
	if (*b->n >= b->cap)
		return 0;
	b->v[*b->n] = strndup(pattern, len);
	if (!b->v[*b->n])
		return -1;
	(*b->n)++;
	return 0;
}

int hm_module_buses(const struct hm_moddb *db, const char *name, char **buses, int cap, int *n)
{
	struct buses b = { buses, cap, n };

	return each_alias_of(db, name, add_bus, &b) < 0 ? -1 : 0;
}

enum hm_modkind hm_module_kind(const struct hm_moddb *db, const char *name)
{
	if (each_alias_of(db, name, is_device_pattern, NULL))
		return HM_MOD_DRIVER;
	if (each_alias_of(db, name, is_fs_pattern, NULL))
		return HM_MOD_FS;
	return HM_MOD_OTHER;
}

bool hm_module_matches(const struct hm_moddb *db, const char *name,
		char *const *modaliases, int n)
{
	struct devices d = { modaliases, n };

	return each_alias_of(db, name, pattern_matches, &d) != 0;
}

bool hm_module_serves_fs(const struct hm_moddb *db, const char *name, const char *fstype)
{
	return each_alias_of(db, name, is_fs_pattern, fstype) != 0;
}

/* A blank of the kernel command line (and the control characters). */
#define BLANK(c) ((unsigned char)(c) <= ' ')

char *hm_module_cmdline_options(const char *cmdline, const char *name)
{
	size_t nlen = strlen(name), len;
	char *out = malloc(strlen(cmdline) + 1), *o = out;
	const char *w, *p = cmdline;
	int q;

	if (!out)
		return NULL;
	for (;;) {
		while (*p && BLANK(*p))
			p++;
		if (!*p)
			break;
		/* a word: up to a blank outside double quotes, as the kernel
		 * splits the line; "NAME.PARAM=a b" keeps its quotes */
		for (w = p, q = 0; *p && (q || !BLANK(*p)); p++)
			q ^= *p == '"';
		q = *w == '"';
		len = p - w - q - nlen - 1;
		if ((ssize_t)len <= 0 || w[q + nlen] != '.' || !name_eq(w + q, nlen, name, nlen))
			continue;
		if (o != out)
			*o++ = ' ';
		if (q)
			*o++ = '"';
		o = mempcpy(o, w + q + nlen + 1, len);
	}
	*o = '\0';
	return out;
}

int hm_modlist_parse(char *text, char ***names)
{
	char **v = NULL, **nv;
	char *s, *nl, *w;
	int n = 0, cap = 0;

	*names = NULL;
	for (s = text; s; s = nl) {
		nl = strchr(s, '\n');
		if (nl)
			*nl++ = '\0';
		s[strcspn(s, "#")] = '\0';
		w = next_word(&s);
		if (!w)
			continue;
		nv = grow(v, &cap, n, sizeof(*nv));
		if (!nv) {
			free(v);
			return -1;
		}
		v = nv;
		v[n++] = w;
	}
	*names = v;
	return n;
}
