/*
 * hypeman run: the disk images, made with mkfs.erofs and mke2fs (no loop
 * mounts): the read-only rootfs (vda), empty ext4 disks for the overlay
 * (vdb) and overlay volumes, and the config disk (vdc).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "meter.h"
#include "mkfs.h"
#include "proc.h"
#include "util.h"

/* Lazy initialisation is done here, not by a guest kernel thread that
 * would write to the disk in the background (slow under TCG). */
#define EXT4_EXTENDED "lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0"

/* The last line of a tool's stderr: usually the one that says why. */
static const char *last_line(const char *text)
{
	const char *nl = strrchr(text, '\n');

	return nl ? nl + 1 : text;
}

static int mke2fs(const char *img, const char *dir, uint64_t size, const char *label,
		bool journal, uint64_t inodes, struct hr_meter *m)
{
	char sizebuf[32], inodebuf[32], *argv[20], *err = NULL;
	struct hr_meter own;
	int n = 0, fd, rc;

	/* A fresh sparse file of the exact size. */
	unlink(img);
	fd = open(img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		hr_msg("%s: %s", img, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	snprintf(sizebuf, sizeof(sizebuf), "%lluk", (unsigned long long)(size / 1024));
	argv[n++] = "mke2fs";
	argv[n++] = "-t";
	argv[n++] = "ext4";
	argv[n++] = "-F";
	argv[n++] = "-q";
	argv[n++] = "-E";
	argv[n++] = EXT4_EXTENDED;
	if (!journal) {
		argv[n++] = "-O";
		argv[n++] = "^has_journal";
	}
	if (inodes) {
		snprintf(inodebuf, sizeof(inodebuf), "%llu", (unsigned long long)inodes);
		argv[n++] = "-N";
		argv[n++] = inodebuf;
	}
	if (label) {
		argv[n++] = "-L";
		argv[n++] = (char *)label;
	}
	if (dir) {
		argv[n++] = "-d";
		argv[n++] = (char *)dir;
	}
	argv[n++] = (char *)img;
	argv[n++] = sizebuf;
	argv[n] = NULL;
	if (!m)
		hr_meter_start(&own, "making %s", img);
	rc = hr_proc_run(argv, -1, -1, &err, m ? m : &own, img);
	if (!m)
		hr_meter_end(&own);
	if (rc != 0)
		hr_msg("%s: mke2fs failed: %s", img, err && err[0] ? last_line(err) : "no reason given");
	free(err);
	return rc == 0 ? 0 : -1;
}

int hr_mkfs_empty(const char *img, uint64_t size, const char *label)
{
	return mke2fs(img, NULL, size, label, true, 0, NULL);
}

int hr_mkfs_from_dir(const char *img, const char *dir, uint64_t size, const char *label)
{
	return mke2fs(img, dir, size, label, true, 0, NULL);
}

/* Blocks and inodes the tree needs in ext4 (4 KiB blocks). */
static void ext4_estimate(uint64_t bytes, uint64_t entries, uint64_t *size, uint64_t *inodes)
{
	/* Data, plus inode tables (256 B each) and metadata, plus room. */
	*inodes = entries + entries / 4 + 1024;
	*size = bytes + bytes / 8 + *inodes * 256 + 16 * MiB;
	*size = (*size + MiB - 1) / MiB * MiB;
}

int hr_mkfs_rootfs(const char *root, const char *img, const char *fs, const char **used)
{
	uint64_t entries, apparent, bytes = hr_tree_usage(root, &entries, &apparent), size, inodes;
	uint64_t avail = hr_free_space(root);	/* img goes beside root */
	char a[32], b[32], n[64], *err = NULL;
	struct hr_meter m;
	int rc;

	if (!fs)
		fs = hr_proc_have("mkfs.erofs") ? "erofs" : "ext4";
	*used = fs;
	ext4_estimate(bytes, entries, &size, &inodes);
	if (avail < size) {	/* an upper bound for erofs too */
		hr_msg("%s: the rootfs disk needs up to %s and only %s is free", img,
			hr_human_size(size, a), hr_human_size(avail, b));
		return -1;
	}
	hr_meter_start(&m, "making %s", img);
	hr_progress("making the rootfs disk (%s, %s of files, %s)", fs,
		hr_human_size(apparent, a), hr_count(entries, "entry", "entries", n));
	if (strcmp(fs, "erofs")) {	/* read-only in the guest: no journal */
		rc = mke2fs(img, root, size, "rootfs", false, inodes, &m);
	} else {
		char *argv[] = { "mkfs.erofs", "--quiet", "--preserve-mtime", (char *)img,
			(char *)root, NULL };

		unlink(img);
		rc = hr_proc_run(argv, -1, -1, &err, &m, img) == 0 ? 0 : -1;
		if (rc)
			hr_msg("%s: mkfs.erofs failed: %s", img, err && err[0] ? last_line(err)
				: "no reason given");
		free(err);
	}
	hr_meter_end(&m);
	return rc;
}
