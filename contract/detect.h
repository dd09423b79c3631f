/*
 * Contract layer: exec or systemd mode (contract: Detection). The host
 * and the guest must agree, so this is the one place the rule lives.
 */
#ifndef HM_DETECT_H
#define HM_DETECT_H 1

#include <stdbool.h>

enum hm_mode { HM_MODE_EXEC = 0, HM_MODE_SYSTEMD = 1 };

/*
 * True when the first word of entrypoint+cmd (NULL-terminated arrays;
 * either may be empty or NULL) is exactly /sbin/init,
 * /lib/systemd/systemd or /usr/lib/systemd/systemd.
 */
bool hm_detect_systemd(char *const *entrypoint, char *const *cmd);

/* Whether INIT_MODE asks for detection: NULL, "" or "auto". */
bool hm_init_mode_auto(const char *init_mode);

/* init_mode NULL, "" or "auto": detect; "exec" or "systemd": that mode.
 * 0 with *mode set, or -1 (mode untouched) for any other init_mode. */
int hm_resolve_mode(const char *init_mode, char *const *entrypoint,
		char *const *cmd, enum hm_mode *mode);

/* "exec" or "systemd" */
const char *hm_mode_name(enum hm_mode mode);

#endif
