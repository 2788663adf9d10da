// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench: every call into the module in one place, /dev/estack and
 * its ioctls, and the module parameters in sysfs; thin wrappers that
 * return -1 with errno set, so that tools/lib/'s helpers can take their
 * place.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bench.h"

int estack_open(void)
{
	return open("/dev/estack", O_RDWR | O_CLOEXEC);
}

/* The API handshake: the page size the module works in. */
int estack_page_size(int fd, unsigned long *page)
{
	struct estack_api api = { .size = sizeof(api) };

	if (ioctl(fd, ESTACK_IOC_API, &api))
		return -1;
	*page = api.page_size;
	return 0;
}

int estack_alloc(int fd, unsigned long bytes, struct estack_alloc *a)
{
	*a = (struct estack_alloc){ .size = sizeof(*a), .bytes = bytes };
	return ioctl(fd, ESTACK_IOC_ALLOC, a);
}

int estack_free(int fd, __u32 id)
{
	struct estack_free f = { .size = sizeof(f), .id = id };

	return ioctl(fd, ESTACK_IOC_FREE, &f);
}

/* An ioctl that only copies in and out: the floor of an estack call. */
int estack_api_nop(int fd)
{
	struct estack_api api = { .size = sizeof(api) };

	return ioctl(fd, ESTACK_IOC_API, &api);
}

static int param_open(const char *name, int flags)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return open(path, flags);
}

int param_read(const char *name, char *buf, size_t len)
{
	int fd = param_open(name, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int param_write(const char *name, const char *val)
{
	int fd = param_open(name, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}
