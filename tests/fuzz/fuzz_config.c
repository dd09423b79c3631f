/*
 * libFuzzer target: config.json parsing (contract/config.c, json.c), then
 * what the init does next with a config that parsed: the mode (detect.c),
 * the program's argv and environment (env.c). Built and run by run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "config.h"
#include "detect.h"
#include "env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hm_config cfg;
	enum hm_mode mode;
	char err[256];
	char **argv, **env;

	if (hm_config_parse((const char *)data, size, &cfg, err, sizeof(err)) != 0) {
		hm_config_free(&cfg);
		return 0;
	}
	hm_resolve_mode(cfg.init_mode, cfg.entrypoint, cfg.cmd, &mode);
	argv = hm_build_argv(&cfg);
	env = hm_build_env(&cfg);
	free(argv);
	hm_free_strv(env);
	hm_config_free(&cfg);
	return 0;
}
