// SPDX-License-Identifier: GPL-2.0
/*
 * estack-info: what the loaded estack module offers (the ESTACK_IOC_API
 * handshake) and the limits it enforces (its module parameters).
 *
 * Exit status: 0, or 1 with a message when the module is not loaded or the
 * handshake fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/estack.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define DEV_PATH	"/dev/estack"
#define PARAM_DIR	"/sys/module/estack/parameters/"

static const struct {
	unsigned long long bit;
	const char *name;
} features[] = {
	{ ESTACK_FEATURE_STACKS, "stacks" },
	{ ESTACK_FEATURE_MOVE, "move" },
	{ ESTACK_FEATURE_ADJUST_FP, "adjust-fp" },
	{ ESTACK_FEATURE_ADJUST_CONSERVATIVE, "adjust-conservative" },
};

static const char *const params[] = {
	"max_stack", "max_stacks_per_fd", "max_bytes_per_fd",
	"max_bytes_per_user",
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: estack-info [--help]\n"
		"Print the ABI version, features and limits of the loaded estack module.\n");
}

static void print_param(const char *name)
{
	char path[128], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	printf("%-20s %s\n", name, buf);
}

int main(int argc, char **argv)
{
	struct estack_api api = { .size = sizeof(api) };
	unsigned int i;
	int fd;

	if (argc > 1) {
		int help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");

		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}

	fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "estack-info: cannot open %s: %s%s\n", DEV_PATH,
			strerror(errno),
			errno == ENOENT ? " (is the estack module loaded?)" : "");
		return 1;
	}
	if (ioctl(fd, ESTACK_IOC_API, &api)) {
		fprintf(stderr, "estack-info: ESTACK_IOC_API: %s\n",
			strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);

	printf("%-20s %u\n", "version", api.version);
	printf("%-20s %u\n", "page_size", api.page_size);
	printf("%-20s", "features");
	for (i = 0; i < ARRAY_SIZE(features); i++)
		if (api.features & features[i].bit)
			printf(" %s", features[i].name);
	printf("%s\n", api.features ? "" : " (none yet)");
	printf("%-20s %llu\n", "min_stack", (unsigned long long)api.min_stack);
	printf("%-20s %llu\n", "max_stack", (unsigned long long)api.max_stack);
	for (i = 1; i < ARRAY_SIZE(params); i++)
		print_param(params[i]);
	return 0;
}
