/*
 * hypeman run: messages, memory, strings, clocks and file-tree helpers
 * (util.c), for every module of the tool.
 */
#ifndef HR_UTIL_H
#define HR_UTIL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fdio.h"		/* hm_write_all */
#include "json.h"		/* hm_utf8_valid */

#define KiB 1024ULL
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

/* "hypeman: ..." on stderr, in one write, unless -q. */
void hr_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "hypeman: ..." on stderr, always (errors and warnings). */
void hr_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A note for the run's log only (hr_tool.log_path), not the terminal: a
 * JSON log line like the init's, phase "host", uptime_ms 0 (before the
 * boot). What is usual but worth knowing (a layer as umoci 0.4.7 writes
 * it). */
void hr_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The run's log for writing: emptied at its first open in a run, then
 * appended to. An fd, or -1 (errno set; EINVAL: the run has none). */
int hr_log_open(void);

/* Allocation that ends the tool on failure ("out of memory"). */
void *hr_malloc(size_t n);
void *hr_calloc(size_t n, size_t size);
void *hr_realloc(void *p, size_t n);
char *hr_strdup(const char *s);
char *hr_strndup(const char *s, size_t n);
char *hr_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A NULL-terminated, growable vector of malloc'd strings. */
struct hr_strv {
	char **v;		/* NULL when empty and never pushed to */
	size_t n, cap;
};
void hr_strv_push(struct hr_strv *s, const char *str);	/* copies str */
void hr_strv_free(struct hr_strv *s);
/* s->v, or a static empty vector when nothing was pushed. */
char *const *hr_strv_array(const struct hr_strv *s);

/* "1 entry", "2 entries": N and the noun for it (ONE or MANY). */
const char *hr_count(uint64_t n, const char *one, const char *many, char buf[64]);
/* "12.3 MB" (decimal units, as the progress lines show sizes). */
const char *hr_human_size(uint64_t bytes, char buf[32]);
/* "4G", "512M", "100k" or bytes (binary units); false when malformed. */
bool hr_parse_size(const char *s, uint64_t *out);
/* Seconds on the monotonic clock. */
double hr_now_s(void);
/* The tail of S after PREFIX, or NULL when S does not start with it. */
const char *hr_after(const char *s, const char *prefix);
/* The safe form of an image path for messages ("\x0a" for control bytes). */
const char *hr_printable(const char *s, char *out, size_t outlen);

/* Bytes free for root on the file system holding path (statvfs). */
uint64_t hr_free_space(const char *path);
/* hm_remove_tree_at() (contract/rmtree.h) for a path. */
int hr_remove_tree(const char *path);
/* Space the tree below path takes in 4 KiB blocks (hard links once);
 * also the number of entries and the sum of the file sizes. */
uint64_t hr_tree_usage(const char *path, uint64_t *entries, uint64_t *apparent);

#endif
