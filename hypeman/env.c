/*
 * hypeman-init: what the program (or systemd) starts with: argv from
 * entrypoint + cmd, the config environment with PATH and HOME defaults,
 * the program's PATH lookup and a clean signal state (see env.h). Pure:
 * libc only; callers treat a NULL result as out of memory.
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += env.o

#ifndef _GNU_SOURCE
# define _GNU_SOURCE	/* strchrnul */
#endif
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "env.h"

char **hm_build_argv(const struct hm_config *cfg)
{
	int n = cfg->n_entrypoint + cfg->n_cmd, i, j = 0;
	char **argv = calloc(n + 1, sizeof(argv[0]));

	if (!argv)
		return NULL;
	for (i = 0; i < cfg->n_entrypoint; i++)
		argv[j++] = cfg->entrypoint[i];
	for (i = 0; i < cfg->n_cmd; i++)
		argv[j++] = cfg->cmd[i];
	return argv;
}

/* "KEY=VALUE", malloc'd */
static char *pair(const char *key, const char *value)
{
	size_t k = strlen(key), v = strlen(value);
	char *s = malloc(k + v + 2);

	if (s) {
		memcpy(s, key, k);
		s[k] = '=';
		memcpy(s + k + 1, value, v + 1);
	}
	return s;
}

char **hm_build_env(const struct hm_config *cfg)
{
	char **env = calloc(cfg->n_env + 3, sizeof(env[0]));
	int i, n = 0;

	if (!env)
		return NULL;
	for (i = 0; i < cfg->n_env; i++)
		if (!(env[n++] = pair(cfg->env[i].key, cfg->env[i].value)))
			goto oom;
	if (!hm_env_get(env, "PATH") && !(env[n++] = pair("PATH", HM_DEFAULT_PATH)))
		goto oom;
	if (!hm_env_get(env, "HOME") && !(env[n++] = pair("HOME", HM_DEFAULT_HOME)))
		goto oom;
	return env;
 oom:
	hm_free_strv(env);
	return NULL;
}

const char *hm_env_get(char *const *env, const char *key)
{
	size_t len = strlen(key);

	for (; *env; env++)
		if (strncmp(*env, key, len) == 0 && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

/* After execve(PATH) failed: remember PATH in FOUND when it exists though
 * execve said ENOENT (the first such candidate only). */
static void note_existing(const char *path, char *found, size_t len)
{
	int err = errno;

	if (err == ENOENT && !found[0] && access(path, F_OK) == 0)
		snprintf(found, len, "%s", path);
	errno = err;
}

void hm_execvpe(char **argv, char **env, char *found, size_t len)
{
	const char *path = hm_env_get(env, "PATH"), *p, *end;
	char buf[PATH_MAX];
	bool denied = false;

	found[0] = '\0';
	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, env);
		note_existing(argv[0], found, len);
		return;
	}
	if (!path)
		path = HM_DEFAULT_PATH;
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		/* an empty element means the current directory */
		if (end == p)
			snprintf(buf, sizeof(buf), "%s", argv[0]);
		else
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)(end - p), p, argv[0]);
		execve(buf, argv, env);
		if (errno == EACCES)
			denied = true;
		note_existing(buf, found, len);
		if (*end == '\0')
			break;
	}
	errno = denied ? EACCES : ENOENT;
}

void hm_reset_signals(void)
{
	sigset_t none;
	int sig;

	/* Handlers do not survive exec, but ignored signals and the mask
	 * do: a program must not inherit PID 1's. */
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void hm_pid1_sigset(sigset_t *set)
{
	static const int sigs[] = {
		SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
	};
	unsigned i;

	sigemptyset(set);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(set, sigs[i]);
}
