/*
 * Parsing for the GPU and kernel-headers phases (see nvinfo.h): the NVIDIA
 * driver's /proc files, /proc/devices, PCI ids in sysfs, the initrd's
 * bundle lists.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += nvinfo.o
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "confine.h"
#include "nvinfo.h"

#define BLANKS " \t"

/* A decimal number in [0, MAX] spanning S..E, or -1. */
static long number(const char *s, const char *e, long max)
{
	long v = 0;

	if (s == e)
		return -1;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	return v;
}

/* The next line of *P (NUL-free view: [*START, *END)), advancing *P. */
static int next_line(const char **p, const char **start, const char **end)
{
	if (!**p)
		return 0;
	*start = *p;
	*end = strchrnul(*p, '\n');
	*p = **end ? *end + 1 : *end;
	if (*end > *start && (*end)[-1] == '\r')
		(*end)--;
	return 1;
}

/* Whether [S, E) starts with PREFIX. */
static int starts_with(const char *s, const char *e, const char *prefix)
{
	size_t n = strlen(prefix);

	return (size_t)(e - s) >= n && strncmp(s, prefix, n) == 0;
}

/* When [S, E) is "KEY:" followed by a value, the value without its
 * surrounding blanks in [*VS, *VE). */
static int key_value(const char *s, const char *e, const char *key,
		const char **vs, const char **ve)
{
	size_t n = strlen(key);

	if (!starts_with(s, e, key) || s + n == e || s[n] != ':')
		return 0;
	s += n + 1;
	while (s < e && strchr(BLANKS, *s))
		s++;
	while (e > s && strchr(BLANKS, e[-1]))
		e--;
	*vs = s;
	*ve = e;
	return 1;
}

int hm_proc_devices_major(const char *text, const char *name)
{
	const char *p = text, *s, *e, *w;
	int in_char = 0;
	long major;

	while (next_line(&p, &s, &e)) {
		if (starts_with(s, e, "Character devices:")) {
			in_char = 1;
			continue;
		}
		if (starts_with(s, e, "Block devices:"))
			in_char = 0;
		if (!in_char)
			continue;
		/* "195 nvidiactl" (the number right-aligned in 3) */
		while (s < e && *s == ' ')
			s++;
		for (w = s; w < e && *w >= '0' && *w <= '9'; w++)
			continue;
		major = number(s, w, 4095);
		while (w < e && *w == ' ')
			w++;
		if (major >= 0 && (size_t)(e - w) == strlen(name) && strncmp(w, name, e - w) == 0)
			return (int)major;
	}
	return -1;
}

int hm_nv_frontend_major(const char *devices, const char **name)
{
	/* before 550.40 one name; from it on two, the major the same */
	static const char *const names[] = { "nvidia-frontend", "nvidiactl", "nvidia" };
	unsigned i;
	int major;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		major = hm_proc_devices_major(devices, names[i]);
		if (major >= 0) {
			*name = names[i];
			return major;
		}
	}
	*name = NULL;
	return HM_NV_MAJOR;
}

static void copy_value(char *dst, size_t size, const char *s, const char *e)
{
	size_t n = e - s;

	if (n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

void hm_nv_gpu_parse(const char *text, struct hm_nv_gpu *gpu)
{
	const char *p = text, *s, *e, *vs, *ve;

	gpu->model[0] = gpu->bus[0] = '\0';
	gpu->minor = -1;
	while (next_line(&p, &s, &e)) {
		if (key_value(s, e, "Model", &vs, &ve))
			copy_value(gpu->model, sizeof(gpu->model), vs, ve);
		else if (key_value(s, e, "Bus Location", &vs, &ve))
			copy_value(gpu->bus, sizeof(gpu->bus), vs, ve);
		else if (key_value(s, e, "Device Minor", &vs, &ve))
			/* 255 is nvidiactl, 254 nvidia-modeset */
			gpu->minor = (int)number(vs, ve, 253);
	}
}

int hm_nv_cap_parse(const char *text, int *minor, unsigned *mode)
{
	const char *p = text, *s, *e, *vs, *ve;
	long m = -1, md = 0444;

	while (next_line(&p, &s, &e)) {
		if (key_value(s, e, "DeviceFileMinor", &vs, &ve))
			m = number(vs, ve, HM_NV_CAP_MINOR_MAX);
		else if (key_value(s, e, "DeviceFileMode", &vs, &ve))
			md = number(vs, ve, 07777);
	}
	if (m < 0 || md < 0)
		return -1;
	*minor = (int)m;
	*mode = (unsigned)md;
	return 0;
}

void hm_nv_params_parse(const char *text, struct hm_nv_params *p)
{
	static const struct { const char *key; size_t off; long max; } keys[] = {
		{ "DeviceFileUID", offsetof(struct hm_nv_params, uid), 0x7fffffff },
		{ "DeviceFileGID", offsetof(struct hm_nv_params, gid), 0x7fffffff },
		{ "DeviceFileMode", offsetof(struct hm_nv_params, mode), 07777 },
		{ "ModifyDeviceFiles", offsetof(struct hm_nv_params, modify), 1 },
	};
	const char *s, *e, *vs, *ve;
	unsigned i;
	long v;

	p->uid = p->gid = 0;
	p->mode = 0666;
	p->modify = 1;
	while (next_line(&text, &s, &e)) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			/* the driver writes decimal; a bad value keeps the default */
			if (key_value(s, e, keys[i].key, &vs, &ve) && (v = number(vs, ve, keys[i].max)) >= 0)
				*(unsigned *)((char *)p + keys[i].off) = (unsigned)v;
		}
	}
}

int hm_pci_nvidia_display(const char *vendor, const char *class)
{
	/* sysfs writes "0x10de\n" and "0x030200\n" */
	return strncmp(vendor, "0x10de", 6) == 0 && (vendor[6] == '\n' || !vendor[6])
		&& strncmp(class, "0x03", 4) == 0 && strspn(class + 4, "0123456789abcdef") == 4
		&& (class[8] == '\n' || !class[8]);
}

static int bad(char *err, size_t errlen, int line, const char *what, const char *word)
{
	snprintf(err, errlen, "line %d: %s \"%s\"", line, what, word);
	return -1;
}

int hm_bundle_list_parse(char *text, struct hm_bundle_list *list,
		char *err, size_t errlen)
{
	char *line, *next, *key, *val;
	const char *why;
	int n = 0;

	memset(list, 0, sizeof(*list));
	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		n++;
		key = line + strspn(line, BLANKS);
		if (!*key || *key == '#')
			continue;
		val = key + strcspn(key, BLANKS);
		if (*val)
			*val++ = '\0';
		val += strspn(val, BLANKS);
		val[strcspn(val, BLANKS "\r")] = '\0';
		if (!*val)
			return bad(err, errlen, n, "no value for", key);
		if (strcmp(key, "release") == 0 || strcmp(key, "version") == 0) {
			/* goes into paths and log lines: a plain word */
			if (strchr(val, '/') || strcmp(val, ".") == 0 || strcmp(val, "..") == 0)
				return bad(err, errlen, n, "bad value", val);
			*(key[0] == 'r' ? &list->release : &list->version) = val;
			continue;
		}
		if (strcmp(key, "tree") != 0 && strcmp(key, "path") != 0)
			return bad(err, errlen, n, "unknown key", key);
		if (!hm_volume_path_valid(val, &why))
			return bad(err, errlen, n, why, val);
		if (key[0] == 't')
			list->tree = val;
		else if (list->n_paths < HM_BUNDLE_MAX_PATHS)
			list->paths[list->n_paths++] = val;
		else
			return bad(err, errlen, n, "too many paths at", val);
	}
	return 0;
}
