/*
 * What the program (or systemd) starts with: argv from entrypoint + cmd,
 * the config environment with PATH and HOME defaults, and a clean signal
 * state (SPEC: Exec mode, Systemd mode).
 */
//kbuild:obj-$(CONFIG_HYPEMAN_INIT) += env.o

#include "libbb.h"
#include "hypeman.h"

char** FAST_FUNC hm_build_argv(const struct hm_config *cfg)
{
	int n = cfg->n_entrypoint + cfg->n_cmd, i, j = 0;
	char **argv;

	if (n == 0)
		return NULL;
	argv = xzalloc((n + 1) * sizeof(argv[0]));
	for (i = 0; i < cfg->n_entrypoint; i++)
		argv[j++] = cfg->entrypoint[i];
	for (i = 0; i < cfg->n_cmd; i++)
		argv[j++] = cfg->cmd[i];
	return argv;
}

char** FAST_FUNC hm_build_env(const struct hm_config *cfg, const char *phase)
{
	char **env = xzalloc((cfg->n_env + 3) * sizeof(env[0]));
	bool have_path = false, have_home = false;
	int i, n = 0;

	/* config.c already made keys unique (the last one wins) */
	for (i = 0; i < cfg->n_env; i++) {
		const struct hm_env *e = &cfg->env[i];
		if (!hm_env_key_valid(e->key)) {
			hm_log(HM_WARN, phase, "env: rejected key \"%s\" (empty or contains '=')", e->key);
			continue;
		}
		env[n++] = xasprintf("%s=%s", e->key, e->value);
		have_path |= (strcmp(e->key, "PATH") == 0);
		have_home |= (strcmp(e->key, "HOME") == 0);
	}
	if (!have_path)
		env[n++] = xstrdup("PATH=" HM_DEFAULT_PATH);
	if (!have_home)
		env[n++] = xstrdup("HOME=/root");
	env[n] = NULL;
	return env;
}

void FAST_FUNC hm_reset_signals(void)
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

void FAST_FUNC hm_execvpe(char **argv, char **env)
{
	const char *path = HM_DEFAULT_PATH, *p, *end;
	char buf[PATH_MAX];
	bool denied = false;
	int i;

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, env);
		return;
	}
	for (i = 0; env[i]; i++)
		if (is_prefixed_with(env[i], "PATH="))
			path = env[i] + 5;
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
		if (*end == '\0')
			break;
	}
	errno = denied ? EACCES : ENOENT;
}

void FAST_FUNC hm_pid1_sigset(sigset_t *set)
{
	static const int sigs[] = {
		SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
	};
	unsigned i;

	sigemptyset(set);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(set, sigs[i]);
}
