// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/estack and its ioctls: each wrapper fills in the struct's size and
 * returns 0 or the errno, never -1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "estack_util.h"

/* The device, close-on-exec; -1 and errno (ENOENT: no module) on failure. */
int es_open(void)
{
	return open(DEV_PATH, O_RDWR | O_CLOEXEC);
}

/*
 * es_open() for a command-line tool: on failure say why on stderr, as
 * "@prog: cannot open /dev/estack: ...", and return -1.
 */
int es_open_verbose(const char *prog)
{
	int fd = es_open();

	if (fd < 0)
		fprintf(stderr, "%s: cannot open %s: %s%s\n", prog, DEV_PATH,
			strerror(errno),
			errno == ENOENT ? " (is the estack module loaded?)" : "");
	return fd;
}

int es_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? errno : 0;
}

/* The handshake: version, features and limits of the module. */
int es_api(int fd, struct estack_api *api)
{
	memset(api, 0, sizeof(*api));
	api->size = sizeof(*api);
	return es_ioctl(fd, ESTACK_IOC_API, api);
}

/* The page size the module works in, from the handshake; or -errno. */
long es_page_size(int fd)
{
	struct estack_api api;
	int err = es_api(fd, &api);

	return err ? -err : (long)api.page_size;
}

int es_alloc(int fd, __u64 bytes, struct estack_alloc *a)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->bytes = bytes;
	return es_ioctl(fd, ESTACK_IOC_ALLOC, a);
}

int es_free(int fd, __u32 id)
{
	struct estack_free f = { .size = sizeof(f), .id = id };

	return es_ioctl(fd, ESTACK_IOC_FREE, &f);
}

int es_info(int fd, __u32 id, struct estack_info *i)
{
	memset(i, 0, sizeof(*i));
	i->size = sizeof(*i);
	i->id = id;
	return es_ioctl(fd, ESTACK_IOC_INFO, i);
}

/* GROW or SHRINK (@cmd) with the rest of @m as the caller filled it in. */
int es_move(int fd, unsigned long cmd, struct estack_move *m)
{
	m->size = sizeof(*m);
	return es_ioctl(fd, cmd, m);
}
