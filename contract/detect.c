/*
 * Contract layer: exec/systemd mode detection, shared by the init and
 * hypeman run (see detect.h).
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += detect.o

#include <stddef.h>
#include <string.h>
#include "detect.h"

bool hm_detect_systemd(char *const *entrypoint, char *const *cmd)
{
	/* Exact paths only: /usr/sbin/init or "bash -c init" may be anything. */
	static const char *const inits[] = {
		"/sbin/init", "/lib/systemd/systemd", "/usr/lib/systemd/systemd"
	};
	const char *first = NULL;
	unsigned i;

	/* argv = entrypoint + cmd: cmd only counts when entrypoint is empty. */
	if (entrypoint && entrypoint[0])
		first = entrypoint[0];
	else if (cmd && cmd[0])
		first = cmd[0];
	if (!first)
		return false;
	for (i = 0; i < sizeof(inits) / sizeof(inits[0]); i++)
		if (strcmp(first, inits[i]) == 0)
			return true;
	return false;
}

bool hm_init_mode_auto(const char *init_mode)
{
	return !init_mode || !init_mode[0] || strcmp(init_mode, "auto") == 0;
}

int hm_resolve_mode(const char *init_mode, char *const *entrypoint,
		char *const *cmd, enum hm_mode *mode)
{
	if (hm_init_mode_auto(init_mode))
		*mode = hm_detect_systemd(entrypoint, cmd) ? HM_MODE_SYSTEMD : HM_MODE_EXEC;
	else if (strcmp(init_mode, "exec") == 0)
		*mode = HM_MODE_EXEC;
	else if (strcmp(init_mode, "systemd") == 0)
		*mode = HM_MODE_SYSTEMD;
	else
		return -1;
	return 0;
}

const char *hm_mode_name(enum hm_mode mode)
{
	return mode == HM_MODE_SYSTEMD ? "systemd" : "exec";
}
