/*
 * hypeman run: writing config.json (contract: config.json). Strings are
 * escaped per RFC 8259; they are all valid UTF-8 (image strings were
 * checked by the JSON reader, command-line strings by hypeman.c).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "run.h"

struct buf {
	char *s;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 1024;
		b->s = hr_realloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* s as a JSON string literal, quotes included. */
static void quote(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];

	put(b, "\"", 1);
	for (; *p; p++) {
		const char *e = NULL;

		switch (*p) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				e = esc;
			}
		}
		if (e)
			puts_(b, e);
		else
			put(b, (const char *)p, 1);
	}
	put(b, "\"", 1);
}

static void strarray(struct buf *b, char *const *v)
{
	size_t i;

	puts_(b, "[");
	for (i = 0; v && v[i]; i++) {
		if (i)
			puts_(b, ", ");
		quote(b, v[i]);
	}
	puts_(b, "]");
}

void env_set(struct run_config *rc, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < rc->env_keys.n; i++)
		if (!strcmp(rc->env_keys.v[i], key)) {
			free(rc->env_values.v[i]);
			rc->env_values.v[i] = hr_strdup(value);
			return;
		}
	strv_push(&rc->env_keys, key);
	strv_push(&rc->env_values, value);
}

char *config_json(const struct run_config *rc)
{
	struct buf b = { 0 };
	size_t i;

	puts_(&b, "{\n  \"entrypoint\": ");
	strarray(&b, rc->entrypoint);
	puts_(&b, ",\n  \"cmd\": ");
	strarray(&b, rc->cmd);
	puts_(&b, ",\n  \"workdir\": ");
	quote(&b, rc->workdir && rc->workdir[0] ? rc->workdir : "/");
	puts_(&b, ",\n  \"env\": {");
	for (i = 0; i < rc->env_keys.n; i++) {
		puts_(&b, i ? ",\n    " : "\n    ");
		quote(&b, rc->env_keys.v[i]);
		puts_(&b, ": ");
		quote(&b, rc->env_values.v[i]);
	}
	puts_(&b, rc->env_keys.n ? "\n  },\n" : "},\n");
	puts_(&b, "  \"network_enabled\": ");
	puts_(&b, rc->network ? "true" : "false");
	if (rc->network)
		/* QEMU user networking's fixed addresses. */
		puts_(&b, ",\n  \"guest_ip\": \"10.0.2.15\",\n  \"guest_cidr\": 24,\n"
			"  \"guest_gw\": \"10.0.2.2\",\n  \"guest_dns\": \"10.0.2.3\"");
	puts_(&b, ",\n  \"volume_mounts\": [");
	for (i = 0; i < rc->n_volumes; i++) {
		const struct volume *v = &rc->volumes[i];

		puts_(&b, i ? ",\n    {" : "\n    {");
		puts_(&b, "\"device\": ");
		quote(&b, v->device);
		puts_(&b, ", \"path\": ");
		quote(&b, v->path);
		puts_(&b, ", \"mode\": ");
		quote(&b, v->mode);
		if (v->overlay_device[0]) {
			puts_(&b, ", \"overlay_device\": ");
			quote(&b, v->overlay_device);
		}
		puts_(&b, "}");
	}
	puts_(&b, rc->n_volumes ? "\n  ],\n" : "],\n");
	puts_(&b, "  \"init_mode\": ");
	quote(&b, rc->init_mode);
	puts_(&b, ",\n  \"skip_guest_agent\": ");
	puts_(&b, rc->skip_guest_agent ? "true" : "false");
	puts_(&b, ",\n  \"has_gpu\": ");
	puts_(&b, rc->has_gpu ? "true" : "false");
	puts_(&b, "\n}\n");
	return b.s;
}
