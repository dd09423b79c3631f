/*
 * hypeman-init: what the program (or systemd) starts with
 * (contract: Exec mode; contract: Systemd mode): argv, environment, PATH
 * lookup, signal state.
 */
#ifndef HM_ENV_H
#define HM_ENV_H 1

#include <signal.h>
#include "config.h"

#define HM_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define HM_DEFAULT_HOME "/root"

/*
 * argv = entrypoint + cmd: a malloc'd NULL-terminated array of pointers
 * into CFG (free the array only); argv[0] is NULL when both are empty.
 * NULL only when out of memory.
 */
char **hm_build_argv(const struct hm_config *cfg);

/*
 * "K=V" for each env entry of CFG, in order, then PATH=HM_DEFAULT_PATH
 * and HOME=HM_DEFAULT_HOME when CFG does not set them. The keys must be
 * valid (config_disk.c drops the others). Free with hm_free_strv(). NULL
 * only when out of memory.
 */
char **hm_build_env(const struct hm_config *cfg);

/* The value of KEY in ENV ("KEY=value" strings), or NULL. */
const char *hm_env_get(char *const *env, const char *key);

/*
 * execve with the PATH of ENV (not the caller's; HM_DEFAULT_PATH when
 * ENV has none) for a name without '/'; an empty PATH element is the
 * current directory. Returns only on failure: errno EACCES when some
 * candidate was not executable, else ENOENT (or execve's errno for a
 * name with '/'). FOUND (LEN bytes) gets the first candidate that exists
 * although execve said ENOENT (its interpreter is missing: interp.h),
 * else "".
 */
void hm_execvpe(char **argv, char **env, char *found, size_t len);

/* Child side before exec: default dispositions, empty signal mask. */
void hm_reset_signals(void);

/* The signals PID 1 keeps blocked and takes with sigtimedwait. */
void hm_pid1_sigset(sigset_t *set);

#endif
