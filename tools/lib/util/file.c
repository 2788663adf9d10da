// SPDX-License-Identifier: GPL-2.0
/*
 * Small files of the kernel: module parameters and statistics in sysfs,
 * knobs in procfs, debugfs and cgroupfs. One value each, one read or one
 * write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estack_util.h"

/*
 * The first line of a file, without its newline, NUL-terminated in @buf
 * (an empty file gives ""); 0 or the errno.
 */
int es_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY), ret = 0;
	ssize_t n;

	if (fd < 0)
		return errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		ret = errno;
	close(fd);
	if (ret)
		return ret;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/*
 * Write @val to a file opened with O_WRONLY | @flags (O_TRUNC clears a
 * tracefs buffer); 0 or the errno, EIO for a short write.
 */
int es_write_file_flags(const char *path, const char *val, int flags)
{
	int fd = open(path, O_WRONLY | flags), ret = 0;
	size_t len = strlen(val);
	ssize_t n;

	if (fd < 0)
		return errno;
	n = write(fd, val, len);
	if (n < 0)
		ret = errno;
	else if ((size_t)n != len)
		ret = EIO;
	close(fd);
	return ret;
}

int es_write_file(const char *path, const char *val)
{
	return es_write_file_flags(path, val, 0);
}

/* A whole-number file (decimal, 0x hex or 0 octal); 0 or the errno. */
int es_read_ll(const char *path, long long *val)
{
	char buf[256];
	int err = es_read_file(path, buf, sizeof(buf));

	if (!err && !buf[0])
		err = ENODATA;	/* no number: not 0 */
	if (!err)
		*val = strtoll(buf, NULL, 0);
	return err;
}

/*
 * A whole-number file for a test. One that cannot be read ends the test
 * case at once (abort: the harness reports the case failed): a baseline of
 * -1 compared with another -1 would otherwise pass.
 */
long long es_read_num(const char *path)
{
	long long val;
	int err = es_read_ll(path, &val);

	if (!err)
		return val;
	fprintf(stderr, "# cannot read %s: %s\n", path, strerror(err));
	abort();
}

/* A statistic of the module (aborts when it cannot be read). */
long long es_stat(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), STATS_DIR "%s", name);
	return es_read_num(path);
}

/* A module parameter as a number (aborts when it cannot be read). */
long long es_param(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return es_read_num(path);
}

/* A module parameter as the kernel prints it; 0 or the errno. */
int es_param_str(const char *name, char *buf, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return es_read_file(path, buf, len);
}

/* Write a module parameter as given (root); 0 or the errno. */
int es_write_param(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return es_write_file(path, val);
}

int es_set_param(const char *name, unsigned long long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", val);
	return es_write_param(name, buf);
}
