/*
 * hypeman-init: lines of a systemd EnvironmentFile= (/etc/hypeman/env).
 */
#ifndef HM_ENVFILE_H
#define HM_ENVFILE_H 1

/*
 * Returns a malloc'd line KEY="VALUE"\n that systemd's EnvironmentFile=
 * reader turns back into exactly key and value (value may hold spaces,
 * quotes, $, `, backslashes, tabs and newlines).
 * NULL with errno ENOMEM when out of memory, or EINVAL when the key
 * cannot be written so that systemd reads it back: empty, containing '='
 * or whitespace (" \t\n\r"), or starting with '#' or ';' (a comment).
 */
char *hm_envfile_line(const char *key, const char *value);

#endif
