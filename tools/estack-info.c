// SPDX-License-Identifier: GPL-2.0
/*
 * estack-info: what the loaded estack module offers (the ESTACK_IOC_API
 * handshake) and the limits it enforces (its module parameters).
 *
 * Exit status: 0, or 1 with a message when the module is not loaded or the
 * handshake fails.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "estack_util.h"

static const struct {
	unsigned long long bit;
	const char *name;
} features[] = {
	{ ESTACK_FEATURE_STACKS, "stacks" },
	{ ESTACK_FEATURE_MOVE, "move" },
	{ ESTACK_FEATURE_ADJUST_FP, "adjust-fp" },
	{ ESTACK_FEATURE_ADJUST_CONSERVATIVE, "adjust-conservative" },
	{ ESTACK_FEATURE_BATCH, "batch" },
};

static const char *const params[] = {
	"max_stack", "max_stacks_per_fd", "max_bytes_per_fd",
	"max_bytes_per_user",
};

static const char usage[] =
	"Usage: estack-info [--help]\n"
	"Print the ABI version, features and limits of the loaded estack module.\n";

static void print_param(const char *name)
{
	char buf[64];

	if (!es_param_str(name, buf, sizeof(buf)))
		printf("%-20s %s\n", name, buf);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct estack_api api;
	unsigned int i;
	int fd, opt, err;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		return es_usage(usage, opt == 'h' ? 0 : 2);
	if (optind < argc)
		return es_usage(usage, 2);

	fd = es_open_verbose("estack-info");
	if (fd < 0)
		return 1;
	err = es_api(fd, &api);
	close(fd);
	if (err) {
		fprintf(stderr, "estack-info: ESTACK_IOC_API: %s\n",
			strerror(err));
		return 1;
	}

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
