/*
 * hypeman run: a small JSON tree for the OCI documents (index.json,
 * manifests, image config), built with the guest's pull reader
 * (hypeman/json.c) so host and guest parse JSON the same strict way.
 * Depth is bounded by the reader (HM_JSON_MAX_DEPTH).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "hypeman.h"

static int build(struct hm_json *j, struct jt *t)
{
	enum hm_json_type type = hm_json_peek(j);
	const char *lit;
	size_t len, cap = 0;
	char *key;
	int r;

	memset(t, 0, sizeof(*t));
	t->type = type;
	switch (type) {
	case HM_JSON_ERROR:
		return -1;
	case HM_JSON_NULL:
		return hm_json_null(j);
	case HM_JSON_BOOL:
		return hm_json_bool(j, &t->b);
	case HM_JSON_NUMBER:
		if (hm_json_number(j, &lit, &len))
			return -1;
		t->str = strndup(lit, len);
		return t->str ? 0 : -1;
	case HM_JSON_STRING:
		return hm_json_string(j, &t->str);
	case HM_JSON_ARRAY:
	case HM_JSON_OBJECT:
		if (hm_json_enter(j))
			return -1;
		for (;;) {
			key = NULL;
			r = hm_json_next(j, type == HM_JSON_OBJECT ? &key : NULL);
			if (r <= 0)
				return r;
			if (t->n == cap) {
				cap = cap ? cap * 2 : 4;
				t->kids = xrealloc(t->kids, cap * sizeof(*t->kids));
				if (type == HM_JSON_OBJECT)
					t->keys = xrealloc(t->keys, cap * sizeof(*t->keys));
			}
			if (type == HM_JSON_OBJECT)
				t->keys[t->n] = key;
			/* Count it first, so jt_free() frees a half-built kid. */
			r = build(j, &t->kids[t->n++]);
			if (r)
				return r;
		}
	}
	return -1;
}

int jt_parse(const char *text, size_t len, struct jt *out, char *err, size_t errlen)
{
	struct hm_json j;

	hm_json_init(&j, text, len);
	if (build(&j, out) || hm_json_end(&j)) {
		snprintf(err, errlen, "%s", j.err[0] ? j.err : "invalid JSON");
		jt_free(out);
		return -1;
	}
	return 0;
}

void jt_free(struct jt *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		jt_free(&t->kids[i]);
		if (t->keys)
			free(t->keys[i]);
	}
	free(t->kids);
	free(t->keys);
	free(t->str);
	memset(t, 0, sizeof(*t));
}

bool jt_is(const struct jt *t, int type)
{
	return t && t->type == type;
}

const struct jt *jt_get(const struct jt *o, const char *key)
{
	size_t i;

	if (!jt_is(o, HM_JSON_OBJECT))
		return NULL;
	for (i = o->n; i-- > 0;)
		if (!strcmp(o->keys[i], key))
			return &o->kids[i];
	return NULL;
}

const char *jt_str(const struct jt *o, const char *key)
{
	const struct jt *v = jt_get(o, key);

	return jt_is(v, HM_JSON_STRING) ? v->str : NULL;
}
