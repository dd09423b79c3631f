// fixture: tests/unit/fstype_fixture.sh
/*
 * Unit tests for hypeman/fstype.c: the superblocks of disks made by
 * mke2fs and mkfs.erofs (the fixture), and short or foreign data.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "fstype.h"

/* The type of the fixture's disk NAME, or "(none)"; "(unreadable)". */
static const char *probe_file(const char *name)
{
	unsigned char buf[HM_FSTYPE_PROBE_BYTES];
	const char *dir = getenv("HM_FIXTURE"), *type;
	char path[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return "(unreadable)";
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0)
		return "(unreadable)";
	type = hm_fstype_probe(buf, n);
	return type ? type : "(none)";
}

static void test_real_disks(void)
{
	if (!CHECKF(getenv("HM_FIXTURE") != NULL, "HM_FIXTURE is not set: run me through tests/unit/run.sh"))
		return;
	/* the ext4 driver mounts ext2 and ext3 too */
	CHECK_STR(probe_file("ext2.img"), "ext4");
	CHECK_STR(probe_file("ext3.img"), "ext4");
	CHECK_STR(probe_file("ext4.img"), "ext4");
	CHECK_STR(probe_file("erofs.img"), "erofs");
	CHECK_STR(probe_file("erofs-lz4.img"), "erofs");
	CHECK_STR(probe_file("zero.img"), "(none)");
}

static void test_synthetic(void)
{
	unsigned char buf[HM_FSTYPE_PROBE_BYTES];

	memset(buf, 0, sizeof(buf));
	CHECK(hm_fstype_probe(buf, sizeof(buf)) == NULL);
	/* ext magic 0xEF53 at 1024 + 0x38, little-endian */
	buf[1080] = 0x53;
	buf[1081] = 0xEF;
	CHECK_STR(hm_fstype_probe(buf, sizeof(buf)), "ext4");
	CHECK(hm_fstype_probe(buf, 1081) == NULL);	/* cut before its end */
	CHECK_STR(hm_fstype_probe(buf, 1082), "ext4");
	buf[1081] = 0x53;
	buf[1080] = 0xEF;				/* big-endian: not it */
	CHECK(hm_fstype_probe(buf, sizeof(buf)) == NULL);
	/* erofs magic 0xE0F5E1E2 at 1024 */
	memset(buf, 0, sizeof(buf));
	buf[1024] = 0xE2;
	buf[1025] = 0xE1;
	buf[1026] = 0xF5;
	buf[1027] = 0xE0;
	CHECK_STR(hm_fstype_probe(buf, sizeof(buf)), "erofs");
	CHECK(hm_fstype_probe(buf, 1027) == NULL);
	CHECK(hm_fstype_probe(buf, 0) == NULL);
}

int main(void)
{
	CHECK_CASE(test_real_disks());
	CHECK_CASE(test_synthetic());
	return check_done();
}
