/*
 * hypeman-init: lines of a systemd EnvironmentFile= (/etc/hypeman/env).
 */
#ifndef HM_ENVFILE_H
#define HM_ENVFILE_H 1

/*
 * Returns a malloc'd line KEY="VALUE"\n that systemd's EnvironmentFile=
 * reader turns back into exactly key and value (value may hold spaces,
 * quotes, $, `, backslashes, tabs and newlines). NULL only when out of
 * memory.
 * A key systemd cannot read back (empty, containing '=' or whitespace
 * " \t\n\r", or starting with '#' or ';', which makes a comment) gives
 * a malloc'd "" instead: nothing to write, so such a key can neither
 * vanish silently into a comment nor smuggle in another line. Callers
 * may warn when the result is empty.
 */
char *hm_envfile_line(const char *key, const char *value);

#endif
