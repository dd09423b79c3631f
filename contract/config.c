/*
 * Contract layer: config.json (see config.h), read by the init and
 * written by hypeman run, both driven by one table of its fields. The
 * file comes from the user: any error is reported with the field (or
 * byte offset) at fault, and nothing in here can end PID 1.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += config.o

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "config.h"

/* One parse: the reader, where the message goes, the field being read. */
struct ctx {
	struct hm_json j;
	char *err;
	size_t errlen;
	char field[96];
};

static int errorf(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int errorf(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Passes on the reader's message (syntax error or out of memory). */
static int json_error(struct ctx *c)
{
	return errorf(c, "%s", c->j.err[0] ? c->j.err : "invalid JSON");
}

/* Keys and values come from the user: keep messages one printable line. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f
		 || *s == '"' || *s == '\\')
			*s = '?';
}

static void set_field(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_field(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->field, sizeof(c->field), fmt, ap);
	va_end(ap);
	sanitize(c->field);
}

/* Checks the type of the next value: 0 when it is t, 1 when it is null
 * and nullable (the null is consumed), -1 with a message otherwise. */
static int want(struct ctx *c, enum hm_json_type t, const char *desc, int nullable)
{
	enum hm_json_type got = hm_json_peek(&c->j);

	if (got == t)
		return 0;
	if (got == HM_JSON_ERROR)
		return json_error(c);
	if (got == HM_JSON_NULL && nullable)
		return hm_json_null(&c->j) ? json_error(c) : 1;
	return errorf(c, "field \"%s\": expected %s, got %s",
		c->field, desc, hm_json_type_name(got));
}

static int skip(struct ctx *c)
{
	return hm_json_skip(&c->j) ? json_error(c) : 0;
}

static int enter(struct ctx *c)
{
	return hm_json_enter(&c->j) ? json_error(c) : 0;
}

/*
 * Makes room for element n plus a zeroed spare (the terminator of a
 * string vector) by doubling; returns the array, or NULL (arr is then
 * still valid and owned by the caller).
 */
static void *grow(struct ctx *c, void *arr, int *cap, int n, size_t size)
{
	int ncap;
	char *p;

	if (n + 1 < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 4;
	p = realloc(arr, (size_t)ncap * size);
	if (!p) {
		errorf(c, "out of memory");
		return NULL;
	}
	memset(p + (size_t)*cap * size, 0, (size_t)(ncap - *cap) * size);
	*cap = ncap;
	return p;
}

enum kind { K_STRV, K_ENV, K_VOLUMES, K_STR, K_BOOL, K_CIDR, K_EGRESS };

/* One member of an object of config.json: its name, kind, and where it
 * goes (offsets in struct hm_config, or in struct hm_volume for a
 * volume's members). */
struct field {
	char name[20];
	unsigned char kind;
	unsigned short off, count_off;
};

#define OFF(s, f) offsetof(struct s, f)
#define CFG(f) OFF(hm_config, f)
/* contract: config.json, its fields, in the order hypeman run writes them */
static const struct field fields[] = {
	{ "entrypoint", K_STRV, CFG(entrypoint), CFG(n_entrypoint) },
	{ "cmd", K_STRV, CFG(cmd), CFG(n_cmd) },
	{ "workdir", K_STR, CFG(workdir), 0 },
	{ "env", K_ENV, CFG(env), CFG(n_env) },
	{ "network_enabled", K_BOOL, CFG(network_enabled), 0 },
	{ "guest_ip", K_STR, CFG(guest_ip), 0 },
	{ "guest_cidr", K_CIDR, CFG(guest_cidr), 0 },
	{ "guest_gw", K_STR, CFG(guest_gw), 0 },
	{ "guest_dns", K_STR, CFG(guest_dns), 0 },
	{ "volume_mounts", K_VOLUMES, CFG(volumes), CFG(n_volumes) },
	{ "init_mode", K_STR, CFG(init_mode), 0 },
	{ "skip_guest_agent", K_BOOL, CFG(skip_guest_agent), 0 },
	{ "skip_kernel_headers", K_BOOL, CFG(skip_kernel_headers), 0 },
	{ "has_gpu", K_BOOL, CFG(has_gpu), 0 },
	{ "egress_proxy", K_EGRESS, 0, 0 },
};
/* volume_mounts[i] */
static const struct field volume_fields[] = {
	{ "device", K_STR, OFF(hm_volume, device), 0 },
	{ "path", K_STR, OFF(hm_volume, path), 0 },
	{ "mode", K_STR, OFF(hm_volume, mode), 0 },
	{ "overlay_device", K_STR, OFF(hm_volume, overlay_device), 0 },
};
/* egress_proxy, whose members are the config's own */
static const struct field egress_fields[] = {
	{ "enabled", K_BOOL, CFG(egress_proxy_enabled), 0 },
	{ "proxy_url", K_STR, CFG(egress_proxy_url), 0 },
	{ "ca_cert_pem", K_STR, CFG(egress_ca_cert_pem), 0 },
};
#undef CFG
#undef OFF
#define N_OF(t) (int)(sizeof(t) / sizeof((t)[0]))

/* The pointer at OFF in BASE (memcpy: its real type varies). */
static void *ptr_at(const char *base, unsigned off)
{
	void *p;

	memcpy(&p, base + off, sizeof(p));
	return p;
}

void hm_free_strv(char **v)
{
	char **p;

	if (v) {
		for (p = v; *p; p++)
			free(*p);
		free(v);
	}
}

static void free_env(void *v, int n)
{
	struct hm_env *e = v;
	int i;

	for (i = 0; i < n; i++) {
		free(e[i].key);
		free(e[i].value);
	}
	free(e);
}

static void free_members(const struct field *table, int n, char *base);

static void free_volumes(void *p, int n)
{
	struct hm_volume *v = p;
	int i;

	for (i = 0; i < n; i++)
		free_members(volume_fields, N_OF(volume_fields), (char *)&v[i]);
	free(v);
}

static void free_strv_n(void *v, int n)
{
	(void)n;
	hm_free_strv(v);
}

/* A string or null (absent) into *dst, replacing what was there. */
static int read_string(struct ctx *c, char **dst)
{
	char *s = NULL;
	int r = want(c, HM_JSON_STRING, "string", 1);

	if (r < 0)
		return -1;
	if (r == 0 && hm_json_string(&c->j, &s))
		return json_error(c);
	free(*dst);
	*dst = s;
	return 0;
}

static int read_bool(struct ctx *c, bool *dst)
{
	int r = want(c, HM_JSON_BOOL, "boolean", 1);

	if (r < 0)
		return -1;
	*dst = false;
	if (r == 0 && hm_json_bool(&c->j, dst))
		return json_error(c);
	return 0;
}

static int read_cidr(struct ctx *c, int *dst)
{
	static const char want_desc[] = "an integer 0..32";
	const char *lit;
	size_t n;
	long v;
	int r = want(c, HM_JSON_NUMBER, want_desc, 1);

	if (r < 0)
		return -1;
	*dst = -1;
	if (r == 1)
		return 0;
	if (hm_json_number(&c->j, &lit, &n))
		return json_error(c);
	if (hm_json_to_long(lit, n, &v) || v < 0 || v > 32)
		return errorf(c, "field \"%s\": expected %s, got %.*s",
			c->field, want_desc, (int)(n > 24 ? 24 : n), lit);
	*dst = v;
	return 0;
}

/* Reads element IDX of a list into SLOT (zeroed); KEY is the member name
 * (malloc'd, now the callee's) for an object, NULL for an array. */
typedef int (*read_elem_fn)(struct ctx *c, void *slot, int idx, char *key);

/* What one kind of list is made of. */
struct list_kind {
	enum hm_json_type type;		/* HM_JSON_ARRAY or HM_JSON_OBJECT */
	const char *desc;		/* for "expected ..." */
	size_t size;			/* of one element */
	read_elem_fn elem;
	void (*free)(void *v, int n);
};

/* A list being read: a growing array of elements. */
struct list {
	void *v;
	int n, cap;
};

/* The elements of a list (null: none) into L. -1 with a message; L then
 * holds what was read so far, for the caller to free. */
static int read_elems(struct ctx *c, const char *name, const struct list_kind *k,
		struct list *l)
{
	char *key = NULL, **keyp = k->type == HM_JSON_OBJECT ? &key : NULL;
	void *p;
	int r = want(c, k->type, k->desc, 1);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (enter(c))
		return -1;
	while ((r = hm_json_next(&c->j, keyp)) > 0) {
		p = grow(c, l->v, &l->cap, l->n, k->size);
		if (!p) {
			free(key);
			return -1;
		}
		l->v = p;
		if (key)
			set_field(c, "%s.%.48s", name, key);
		else
			set_field(c, "%s[%d]", name, l->n);
		/* counted first: a half-read element is freed with the rest */
		l->n++;
		r = k->elem(c, (char *)l->v + (size_t)(l->n - 1) * k->size, l->n - 1, key);
		key = NULL;
		if (r)
			return -1;
	}
	return r < 0 ? json_error(c) : 0;
}

/* The list field NAME (pointer at DST, length at COUNT) replaced by the
 * one read next. */
static int read_list(struct ctx *c, const char *name, const struct list_kind *k,
		void *dst, int *count)
{
	struct list l = { NULL, 0, 0 };
	void *old;

	if (read_elems(c, name, k, &l)) {
		k->free(l.v, l.n);
		return -1;
	}
	memcpy(&old, dst, sizeof(old));
	k->free(old, *count);
	memcpy(dst, &l.v, sizeof(l.v));
	*count = l.n;
	return 0;
}

static int read_strv_elem(struct ctx *c, void *slot, int idx, char *key)
{
	(void)idx;
	(void)key;
	if (want(c, HM_JSON_STRING, "string", 0))
		return -1;
	return hm_json_string(&c->j, slot) ? json_error(c) : 0;
}

static int cmp_env(const void *a, const void *b)
{
	const struct hm_env *x = *(const struct hm_env *const *)a;
	const struct hm_env *y = *(const struct hm_env *const *)b;
	int r = strcmp(x->key, y->key);

	/* Equal keys stay in file order, so the last of a run is the last one written. */
	return r ? r : (x < y ? -1 : 1);
}

/* Last one wins for repeated env keys. Sorting pointers keeps this
 * O(n log n): a 1 MiB env object must not cost a quadratic scan. */
static int dedup_env(struct ctx *c, struct hm_config *cfg)
{
	struct hm_env **s;
	int i, k, n = cfg->n_env;

	if (n < 2)
		return 0;
	s = malloc(n * sizeof(*s));
	if (!s)
		return errorf(c, "out of memory");
	for (i = 0; i < n; i++)
		s[i] = &cfg->env[i];
	qsort(s, n, sizeof(*s), cmp_env);
	for (i = 0; i + 1 < n; i++) {
		if (strcmp(s[i]->key, s[i + 1]->key) == 0) {
			free(s[i]->key);
			free(s[i]->value);
			s[i]->key = NULL;
		}
	}
	free(s);
	for (i = k = 0; i < n; i++)
		if (cfg->env[i].key)
			cfg->env[k++] = cfg->env[i];
	cfg->n_env = k;
	return 0;
}

static int read_env_elem(struct ctx *c, void *slot, int idx, char *key)
{
	struct hm_env *e = slot;

	(void)idx;
	e->key = key;
	if (want(c, HM_JSON_STRING, "string", 0))
		return -1;
	return hm_json_string(&c->j, &e->value) ? json_error(c) : 0;
}

static int volume_error(struct ctx *c, int idx, const char *name, const char *what)
{
	return errorf(c, "field \"volume_mounts[%d].%s\": %s", idx, name, what);
}

/* Required fields and the mode; overlay_device only means something for overlay. */
static int check_volume(struct ctx *c, int idx, struct hm_volume *v)
{
	static const char missing[] = "missing or empty";
	char got[24];

	if (!v->device || !v->device[0])
		return volume_error(c, idx, "device", missing);
	if (!v->path || !v->path[0])
		return volume_error(c, idx, "path", missing);
	if (!v->mode)
		return volume_error(c, idx, "mode", missing);
	if (strcmp(v->mode, "overlay") == 0) {
		if (!v->overlay_device || !v->overlay_device[0])
			return volume_error(c, idx, "overlay_device",
				"missing or empty, required when mode is \"overlay\"");
		return 0;
	}
	if (strcmp(v->mode, "ro") != 0 && strcmp(v->mode, "rw") != 0) {
		snprintf(got, sizeof(got), "%s", v->mode);
		sanitize(got);
		return errorf(c, "field \"volume_mounts[%d].mode\": expected \"ro\", "
			"\"rw\" or \"overlay\", got \"%s\"", idx, got);
	}
	free(v->overlay_device);
	v->overlay_device = NULL;
	return 0;
}

static int read_members(struct ctx *c, const struct field *table, int n, char *base,
		const char *prefix);

static int read_volume(struct ctx *c, void *slot, int idx, char *unused)
{
	char prefix[32];

	(void)unused;
	snprintf(prefix, sizeof(prefix), "volume_mounts[%d].", idx);
	if (want(c, HM_JSON_OBJECT, "object", 0)
	 || read_members(c, volume_fields, N_OF(volume_fields), slot, prefix))
		return -1;
	return check_volume(c, idx, slot);
}

static int read_egress(struct ctx *c, struct hm_config *cfg)
{
	int r = want(c, HM_JSON_OBJECT, "object", 1);

	if (r < 0)
		return -1;
	/* The last egress_proxy (or null) replaces the earlier one as a whole. */
	cfg->egress_proxy_enabled = false;
	free(cfg->egress_proxy_url);
	free(cfg->egress_ca_cert_pem);
	cfg->egress_proxy_url = cfg->egress_ca_cert_pem = NULL;
	if (r == 1)
		return 0;
	return read_members(c, egress_fields, N_OF(egress_fields), (char *)cfg, "egress_proxy.");
}

/* The lists, by kind. finish() turns an absent string array (NULL) into []. */
static const struct list_kind lists[] = {
	[K_STRV] = { HM_JSON_ARRAY, "array of strings", sizeof(char *), read_strv_elem, free_strv_n },
	[K_ENV] = { HM_JSON_OBJECT, "object", sizeof(struct hm_env), read_env_elem, free_env },
	[K_VOLUMES] = { HM_JSON_ARRAY, "array of objects", sizeof(struct hm_volume), read_volume,
		free_volumes },
};

/* The value of field F, into BASE. */
static int read_value(struct ctx *c, const struct field *f, char *base)
{
	switch (f->kind) {
	case K_STR:
		return read_string(c, (char **)(base + f->off));
	case K_BOOL:
		return read_bool(c, (bool *)(base + f->off));
	case K_CIDR:
		return read_cidr(c, (int *)(base + f->off));
	case K_EGRESS:
		return read_egress(c, (struct hm_config *)base);
	default:
		return read_list(c, f->name, &lists[f->kind], base + f->off,
			(int *)(base + f->count_off));
	}
}

/* The members of the object that comes next, those of TABLE (N fields)
 * into BASE, the others skipped (unknown fields are ignored). PREFIX
 * names the object in messages. */
static int read_members(struct ctx *c, const struct field *table, int n, char *base,
		const char *prefix)
{
	const struct field *f;
	char *key;
	int r;

	if (enter(c))
		return -1;
	while ((r = hm_json_next(&c->j, &key)) > 0) {
		for (f = table; f < table + n && strcmp(f->name, key) != 0; f++)
			continue;
		set_field(c, "%s%.32s", prefix, key);
		free(key);
		if (f < table + n ? read_value(c, f, base) : skip(c))
			return -1;
	}
	return r < 0 ? json_error(c) : 0;
}

/* Defaults for what was absent (or null). */
static int finish(struct ctx *c, struct hm_config *cfg)
{
	if (!cfg->entrypoint)
		cfg->entrypoint = calloc(1, sizeof(char *));
	if (!cfg->cmd)
		cfg->cmd = calloc(1, sizeof(char *));
	/* An image without WORKDIR gives "": that means "/" as in Docker. */
	if (cfg->workdir && !cfg->workdir[0]) {
		free(cfg->workdir);
		cfg->workdir = NULL;
	}
	if (!cfg->workdir)
		cfg->workdir = strdup("/");
	if (!cfg->entrypoint || !cfg->cmd || !cfg->workdir)
		return errorf(c, "out of memory");
	return 0;
}

int hm_config_parse(const char *text, size_t len, struct hm_config *cfg,
		char *err, size_t errlen)
{
	struct ctx c;
	enum hm_json_type t;

	memset(cfg, 0, sizeof(*cfg));
	cfg->guest_cidr = -1;
	c.err = err;
	c.errlen = errlen;
	c.field[0] = '\0';
	if (len > HM_CONFIG_MAX_BYTES)
		return errorf(&c, "config is %lu bytes, limit is %d",
			(unsigned long)len, HM_CONFIG_MAX_BYTES);
	if (len == 0)
		return errorf(&c, "config is empty");
	hm_json_init(&c.j, text, len);
	t = hm_json_peek(&c.j);
	if (t != HM_JSON_OBJECT) {
		if (t == HM_JSON_ERROR)
			return json_error(&c);
		return errorf(&c, "config must be a JSON object, got %s",
			hm_json_type_name(t));
	}
	if (read_members(&c, fields, N_OF(fields), (char *)cfg, "") == 0
	 && (hm_json_end(&c.j) == 0 || json_error(&c) == 0)
	 && dedup_env(&c, cfg) == 0 && finish(&c, cfg) == 0)
		return 0;
	hm_config_free(cfg);
	return -1;
}

/* What the fields of TABLE (N) hold in BASE, freed. */
static void free_members(const struct field *table, int n, char *base)
{
	const struct field *f;

	for (f = table; f < table + n; f++) {
		if (f->kind == K_STR)
			free(ptr_at(base, f->off));
		else if (f->kind == K_EGRESS)
			free_members(egress_fields, N_OF(egress_fields), base);
		else if (f->kind <= K_VOLUMES)
			lists[f->kind].free(ptr_at(base, f->off), *(int *)(base + f->count_off));
	}
}

void hm_config_free(struct hm_config *cfg)
{
	free_members(fields, N_OF(fields), (char *)cfg);
	memset(cfg, 0, sizeof(*cfg));
	cfg->guest_cidr = -1;
}

int hm_env_key_valid(const char *key)
{
	return key && key[0] && !strchr(key, '=');
}

int hm_volume_path_valid(const char *path, const char **reason)
{
	const char *why = NULL, *p;
	size_t n;
	int comps = 0;

	if (!path || !*path)
		why = "empty path";
	else if (*path != '/')
		why = "path is not absolute";
	else if (strlen(path) >= PATH_MAX)
		why = "path too long";
	for (p = path; !why && *p; p += n) {
		p += strspn(p, "/");
		n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			why = "path has a \".\" or \"..\" component";
		comps += n > 0;
	}
	if (!why && !comps)
		why = "path is \"/\"";
	if (reason)
		*reason = why;
	return why == NULL;
}

/* ---- writing: config.json as hypeman run hands it to the init ---- */

struct writing {
	struct hm_jsonw w;
	const char *bad;	/* the field with a string that is not UTF-8 */
};

static void put(struct writing *wr, const char *s)
{
	hm_jsonw_raw(&wr->w, s, strlen(s));
}

static void put_string(struct writing *wr, const char *s, const char *field)
{
	if (hm_jsonw_string(&wr->w, s) != 0 && !wr->bad)
		wr->bad = field;
}

static void write_members(struct writing *wr, const struct field *table, int n,
		const char *base, bool top);

/* A list field: ["a", "b"], {"K": "V"} or [{volume}, ...]. */
static void write_list(struct writing *wr, const struct field *f, const char *base)
{
	const char *v = ptr_at(base, f->off);
	int i, n = *(const int *)(base + f->count_off);

	put(wr, f->kind == K_ENV ? "{" : "[");
	for (i = 0; i < n; i++) {
		put(wr, i ? ", " : "");
		if (f->kind == K_STRV) {
			put_string(wr, ((char *const *)v)[i], f->name);
		} else if (f->kind == K_ENV) {
			put_string(wr, ((const struct hm_env *)v)[i].key, f->name);
			put(wr, ": ");
			put_string(wr, ((const struct hm_env *)v)[i].value, f->name);
		} else {
			write_members(wr, volume_fields, N_OF(volume_fields),
				(const char *)&((const struct hm_volume *)v)[i], false);
		}
	}
	put(wr, f->kind == K_ENV ? "}" : "]");
}

/* Whether field F of BASE is absent (null, -1, an empty egress_proxy):
 * then it is not written, and reads back as absent. */
static bool absent(const struct field *f, const char *base)
{
	const struct hm_config *cfg = (const void *)base;

	if (f->kind == K_STR)
		return !ptr_at(base, f->off);
	if (f->kind == K_CIDR)
		return *(const int *)(base + f->off) < 0;
	if (f->kind == K_EGRESS)
		return !cfg->egress_proxy_enabled && !cfg->egress_proxy_url
			&& !cfg->egress_ca_cert_pem;
	return false;
}

static void write_value(struct writing *wr, const struct field *f, const char *base)
{
	char num[16];

	switch (f->kind) {
	case K_STR:
		put_string(wr, ptr_at(base, f->off), f->name);
		break;
	case K_BOOL:
		put(wr, *(const bool *)(base + f->off) ? "true" : "false");
		break;
	case K_CIDR:
		snprintf(num, sizeof(num), "%d", *(const int *)(base + f->off));
		put(wr, num);
		break;
	case K_EGRESS:
		write_members(wr, egress_fields, N_OF(egress_fields), base, false);
		break;
	default:
		write_list(wr, f, base);
	}
}

/* An object of TABLE's fields (N) from BASE: at the top one member a
 * line, else on one line. */
static void write_members(struct writing *wr, const struct field *table, int n,
		const char *base, bool top)
{
	const struct field *f;
	bool first = true;

	put(wr, "{");
	for (f = table; f < table + n; f++) {
		if (absent(f, base))
			continue;
		put(wr, first ? (top ? "\n  " : "") : (top ? ",\n  " : ", "));
		first = false;
		put_string(wr, f->name, f->name);
		put(wr, ": ");
		write_value(wr, f, base);
	}
	put(wr, top ? "\n}\n" : "}");
}

char *hm_config_write(const struct hm_config *cfg, size_t *len, char *err, size_t errlen)
{
	struct writing wr;

	memset(&wr, 0, sizeof(wr));
	write_members(&wr, fields, N_OF(fields), (const char *)cfg, true);
	if (wr.w.oom || wr.bad) {
		if (err && errlen && wr.bad)
			snprintf(err, errlen, "field \"%s\": not valid UTF-8", wr.bad);
		else if (err && errlen)
			snprintf(err, errlen, "out of memory");
		free(wr.w.buf);
		return NULL;
	}
	if (len)
		*len = wr.w.len;
	return wr.w.buf;
}
