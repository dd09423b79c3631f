/*
 * Contract layer: config.json (contract: config.json), read by the init,
 * written by hypeman run. Both go by one table of its fields (config.c):
 * a new field is a member here, a line there, its row in the contract's
 * table, and the option of hypeman run that sets it (host/main.c).
 */
#ifndef HM_CONFIG_H
#define HM_CONFIG_H 1

#include <stdbool.h>
#include <stddef.h>
#include "disks.h"

struct hm_volume {
	char *device;		/* e.g. "/dev/vdd" */
	char *path;		/* mount point inside the image (not checked here) */
	char *mode;		/* "ro", "rw" or "overlay" (validated) */
	char *overlay_device;	/* required when mode is "overlay", else NULL */
};

struct hm_env {
	char *key;
	char *value;
};

struct hm_config {
	char **entrypoint;	/* NULL-terminated, never NULL (empty when absent) */
	int n_entrypoint;
	char **cmd;		/* same */
	int n_cmd;
	char *workdir;		/* default (absent, null or "") "/" */
	struct hm_env *env;	/* file order, one entry per key; keys NOT validated here */
	int n_env;
	bool network_enabled;
	char *guest_ip, *guest_gw, *guest_dns;	/* NULL when absent */
	int guest_cidr;		/* -1 when absent, else 0..32 */
	struct hm_volume *volumes;
	int n_volumes;
	char *init_mode;	/* NULL when absent; raw string, see hm_resolve_mode() */
	bool skip_guest_agent, skip_kernel_headers, has_gpu;
	bool egress_proxy_enabled;
	char *egress_proxy_url;	/* NULL when absent */
	char *egress_ca_cert_pem;	/* NULL when absent */
};

/*
 * Parses config.json text (len bytes, need not be NUL-terminated).
 * 0 on success; -1 with a one-line message in err saying what and where
 * ("field \"guest_cidr\": expected an integer 0..32, got string",
 * "offset 17: expected ',' or '}'"); cfg is then empty (but may still be
 * passed to hm_config_free()).
 *
 * JSON null for any field (top level, in a volume or in egress_proxy)
 * means the same as the field being absent: hosts written in Go encode
 * a nil slice or map as null. Array elements and env values may not be
 * null. A repeated key replaces the earlier value (last one wins), also
 * inside env, where the entry moves to the position of its last
 * occurrence.
 */
int hm_config_parse(const char *text, size_t len, struct hm_config *cfg,
		char *err, size_t errlen);
void hm_config_free(struct hm_config *cfg);

/*
 * config.json for CFG, as hm_config_parse reads it back: malloc'd,
 * NUL-terminated, its length in *LEN (may be NULL); the fields in the
 * table's order, one a line, absent ones (NULL strings, guest_cidr -1, an
 * empty egress_proxy) left out. NULL when a string is not valid UTF-8 or
 * out of memory, with the reason in ERR ("field \"env\": not valid UTF-8").
 */
char *hm_config_write(const struct hm_config *cfg, size_t *len, char *err, size_t errlen);

/* Frees a NULL-terminated array of malloc'd strings (V may be NULL). */
void hm_free_strv(char **v);

/* contract: config.json, the env key rule: non-empty and no '='. 1 when valid, else 0. */
int hm_env_key_valid(const char *key);

/*
 * contract: config.json, the volume path rule: absolute, no "." or ".."
 * component, not "/" (after collapsing slashes), shorter than PATH_MAX.
 * 1 when PATH is one; else 0 and *REASON (may be NULL) says why ("path
 * is not absolute").
 */
int hm_volume_path_valid(const char *path, const char **reason);

#endif
