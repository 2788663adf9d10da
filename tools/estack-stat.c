// SPDX-License-Identifier: GPL-2.0
/*
 * estack-stat: what the estack module holds and does, like vmstat/slabtop.
 *
 *   estack-stat                 a summary and a per-class table, once
 *   estack-stat INTERVAL [N]    rates per INTERVAL seconds, N times
 *   estack-stat --json          every counter, as one JSON object
 *   estack-stat --per-cpu       also the pages each CPU's cache holds
 *
 * Reads /sys/class/misc/estack/stats/ (no root needed). Exit status 1 with
 * a message when the module is not loaded.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estack_util.h"

#define MAX_STATS	64
#define MAX_CLASSES	32

struct stat_file {
	char name[256];
	char value[512];	/* as read, without the newline */
};

struct snapshot {
	struct stat_file f[MAX_STATS];
	int n;
};

static int read_stats(struct snapshot *s)
{
	struct dirent *de;
	DIR *d = opendir(STATS_DIR);

	if (!d)
		return -1;
	s->n = 0;
	while ((de = readdir(d)) && s->n < MAX_STATS) {
		struct stat_file *f = &s->f[s->n];
		char path[320];
		FILE *fp;

		if (de->d_name[0] == '.')
			continue;
		snprintf(f->name, sizeof(f->name), "%s", de->d_name);
		snprintf(path, sizeof(path), STATS_DIR "%s", de->d_name);
		fp = fopen(path, "r");
		if (!fp)
			continue;
		if (!fgets(f->value, sizeof(f->value), fp))
			f->value[0] = 0;
		fclose(fp);
		f->value[strcspn(f->value, "\n")] = 0;
		s->n++;
	}
	closedir(d);
	return 0;
}

static const char *value_of(const struct snapshot *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->f[i].name, name))
			return s->f[i].value;
	return "0";
}

static unsigned long long num(const struct snapshot *s, const char *name)
{
	return strtoull(value_of(s, name), NULL, 10);
}

/* The "SIZE=N" entries after the total, as in class_allocs. */
static int split(const char *v, char keys[][16], unsigned long long *vals)
{
	char buf[512], *tok, *save;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", v);
	tok = strtok_r(buf, " ", &save);	/* the total */
	while ((tok = strtok_r(NULL, " ", &save)) && n < MAX_CLASSES) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = 0;
		snprintf(keys[n], 16, "%s", tok);
		vals[n++] = strtoull(eq + 1, NULL, 10);
	}
	return n;
}

static unsigned long long lookup(const char *v, const char *key)
{
	char keys[MAX_CLASSES][16];
	unsigned long long vals[MAX_CLASSES];
	int i, n = split(v, keys, vals);

	for (i = 0; i < n; i++)
		if (!strcmp(keys[i], key))
			return vals[i];
	return 0;
}

static void print_json(const struct snapshot *s)
{
	char keys[MAX_CLASSES][16];
	unsigned long long vals[MAX_CLASSES];
	int i, j, n;

	printf("{");
	for (i = 0; i < s->n; i++) {
		const char *v = s->f[i].value;

		printf("%s\"%s\": ", i ? ", " : "", s->f[i].name);
		if (!strchr(v, ' ')) {
			printf("%llu", strtoull(v, NULL, 10));
			continue;
		}
		/* "total K=V ...": the total and the split. */
		n = split(v, keys, vals);
		printf("{\"total\": %llu", strtoull(v, NULL, 10));
		for (j = 0; j < n; j++)
			printf(", \"%s\": %llu", keys[j], vals[j]);
		printf("}");
	}
	printf("}\n");
}

static void print_human(const struct snapshot *s, int per_cpu)
{
	unsigned long long hits = num(s, "cache_hits");
	unsigned long long misses = num(s, "cache_misses");
	char keys[MAX_CLASSES][16];
	unsigned long long vals[MAX_CLASSES];
	const char *allocs = value_of(s, "class_allocs");
	int i, n;

	printf("stacks in use     %llu (%llu KiB)\n", num(s, "stacks_in_use"),
	       num(s, "bytes_in_use") >> 10);
	printf("cached            %llu KiB\n", num(s, "bytes_cached") >> 10);
	printf("allocs / frees    %llu / %llu\n", num(s, "allocs"),
	       num(s, "frees"));
	printf("grows / shrinks   %llu / %llu (%llu failed grows)\n",
	       num(s, "grows"), num(s, "shrinks"), num(s, "grow_failures"));
	printf("copied            %llu KiB, %llu words relocated\n",
	       num(s, "bytes_copied") >> 10, num(s, "words_relocated"));
	printf("cache hits        %.1f%% (%llu of %llu)\n",
	       hits + misses ? 100.0 * hits / (hits + misses) : 0.0, hits,
	       hits + misses);
	printf("mapped cache      %llu ALLOCs served, %llu FREEs kept\n",
	       num(s, "mapped_cache_hits"), num(s, "mapped_cache_adds"));
	printf("shrinker          %llu scans, %llu KiB freed\n",
	       num(s, "shrinker_scans"), num(s, "shrinker_freed") * 4);
	if (per_cpu)
		printf("per-CPU caches    %s (pages)\n", value_of(s, "cpu_cached"));

	printf("\n%8s %12s %12s %10s %10s\n", "size", "allocs", "frees",
	       "in_use", "cached");
	n = split(allocs, keys, vals);
	for (i = 0; i < n; i++)
		printf("%8s %12llu %12llu %10llu %10llu\n", keys[i], vals[i],
		       lookup(value_of(s, "class_frees"), keys[i]),
		       lookup(value_of(s, "class_in_use"), keys[i]),
		       lookup(value_of(s, "class_cached"), keys[i]));
}

static void print_rates(const struct snapshot *a, const struct snapshot *b,
			double secs, int header, int per_cpu)
{
	unsigned long long hits = num(b, "cache_hits") - num(a, "cache_hits");
	unsigned long long misses = num(b, "cache_misses") -
				    num(a, "cache_misses");

	if (header)
		printf("%10s %10s %10s %10s %10s %7s %10s %10s%s\n", "alloc/s",
		       "free/s", "grow/s", "shrink/s", "MB_cp/s", "hit%",
		       "in_use", "cached_KB", per_cpu ? "  per-CPU" : "");
	printf("%10.0f %10.0f %10.0f %10.0f %10.2f %7.1f %10llu %10llu",
	       (num(b, "allocs") - num(a, "allocs")) / secs,
	       (num(b, "frees") - num(a, "frees")) / secs,
	       (num(b, "grows") - num(a, "grows")) / secs,
	       (num(b, "shrinks") - num(a, "shrinks")) / secs,
	       (num(b, "bytes_copied") - num(a, "bytes_copied")) / secs / 1e6,
	       hits + misses ? 100.0 * hits / (hits + misses) : 100.0,
	       num(b, "stacks_in_use"), num(b, "bytes_cached") >> 10);
	if (per_cpu)
		printf("  %s", value_of(b, "cpu_cached"));
	printf("\n");
	fflush(stdout);
}

static const char usage[] =
	"Usage: estack-stat [--json] [--per-cpu] [INTERVAL [COUNT]]\n"
	"Show what the estack module holds and does.\n"
	"  (no INTERVAL)  a summary and a per-class table\n"
	"  INTERVAL       rates every INTERVAL seconds, COUNT times\n"
	"  --json         every counter as one JSON object\n"
	"  --per-cpu      also the pages each CPU's cache holds\n"
	"  --help         this text\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "per-cpu", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int json = 0, per_cpu = 0, opt, i;
	double interval = 0;
	long count = -1;
	struct snapshot *prev, *cur, *tmp;

	while ((opt = getopt_long(argc, argv, "jch", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'c':
			per_cpu = 1;
			break;
		default:
			return es_usage(usage, opt == 'h' ? 0 : 2);
		}
	}
	if (optind < argc) {
		interval = strtod(argv[optind++], NULL);
		if (interval <= 0)
			return es_usage(usage, 2);
	}
	if (optind < argc)
		count = strtol(argv[optind++], NULL, 10);

	prev = calloc(1, sizeof(*prev));
	cur = calloc(1, sizeof(*cur));
	if (!prev || !cur)
		return 1;
	if (read_stats(cur)) {
		fprintf(stderr,
			"estack-stat: cannot read %s: %s (is the estack module loaded?)\n",
			STATS_DIR, strerror(errno));
		return 1;
	}
	if (!interval) {
		if (json)
			print_json(cur);
		else
			print_human(cur, per_cpu);
		return 0;
	}
	for (i = 0; count < 0 || i < count; i++) {
		tmp = prev;
		prev = cur;
		cur = tmp;
		usleep((useconds_t)(interval * 1e6));
		if (read_stats(cur)) {
			fprintf(stderr, "estack-stat: the module went away\n");
			return 1;
		}
		if (json)
			print_json(cur);
		else
			print_rates(prev, cur, interval, !(i % 20), per_cpu);
	}
	return 0;
}
