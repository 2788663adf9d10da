// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench: the case table and the output.
 *
 * The groups declare here, before anything runs, every case they time and
 * every ratio of medians that Documentation/mm/estack/benchmarks.rst
 * shows. The JSON (-j) carries that table next to the results, so that
 * tools/bench/report.py builds its rows from it and knows no case by name:
 *
 *   groups   name, title and intro of each section of the page
 *   cases    key ("group/case/param"), group, case, param, param_unit,
 *            measures (what one operation does), unit, ratios (the
 *            names of the ratios it takes part in)
 *   ratios   group, name, num and den (case keys whose times are added
 *            up; "floor:getppid2", "floor:getppid" and "floor:ioctl2" in
 *            den are the floors timed with the first num case),
 *            num_less (a key subtracted above the line), target
 *            {op, bound, and for a target relative to the platform's own
 *            ratio: cal_num, cal_den, cap}, reading (with {value} and
 *            {percent}), reading_slower (when the value is 1 or more),
 *            reading_unmeasured (when a case is missing, with {error})
 *   results  group, case, param, key, then median_ns, min_ns, max_ns,
 *            reps, batch, set (cases of one set ran interleaved),
 *            times_ns (each repetition, in order) and floor_ns
 *            {getppid2, ioctl2} (each timed in the same repetition), or
 *            error
 *
 * A ratio of cases of one set is taken repetition by repetition by
 * report.py, which shows the median of those quotients and their spread.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("vasprintf");
	return s;
}

/* The key of a case, as ratios and the JSON name it; never freed. */
char *case_key(struct bench_id id)
{
	return xasprintf("%s/%s/%lu", id.group, id.name, id.param);
}

static void *grow_array(void *array, unsigned int nr, size_t size)
{
	/* Doubling at powers of two: amortised, and no capacity to keep. */
	if (nr & (nr - 1))
		return array;
	array = realloc(array, (nr ? 2 * nr : 1) * size);
	if (!array)
		die("realloc");
	return array;
}

struct bench_case_info *table_case(struct bench_table *t, struct bench_id id,
				   const char *param_unit,
				   const char *measures)
{
	struct bench_case_info *c;

	t->cases = grow_array(t->cases, t->nr_cases, sizeof(*t->cases));
	c = &t->cases[t->nr_cases++];
	*c = (struct bench_case_info){
		.id = id, .key = case_key(id),
		.param_unit = param_unit, .measures = measures,
		.unit = UNIT_NS_PER_OP,
	};
	return c;
}

void table_ratio(struct bench_table *t, const struct bench_ratio *r)
{
	t->ratios = grow_array(t->ratios, t->nr_ratios, sizeof(*t->ratios));
	t->ratios[t->nr_ratios++] = *r;
}

struct bench_case_info *table_find(struct bench_table *t, struct bench_id id)
{
	unsigned int i;

	for (i = 0; i < t->nr_cases; i++) {
		struct bench_case_info *c = &t->cases[i];

		if (c->id.param == id.param && !strcmp(c->id.name, id.name) &&
		    !strcmp(c->id.group, id.group))
			return c;
	}
	return NULL;
}

/* ---- JSON -------------------------------------------------------------- */

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", *s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

/* "name": "value", with the separator before it unless it comes first. */
static void json_field(FILE *out, const char *sep, const char *name,
		       const char *value)
{
	fprintf(out, "%s\"%s\": ", sep, name);
	json_str(out, value);
}

static void json_keys(FILE *out, const char *name, const char *const *keys,
		      unsigned int nr)
{
	unsigned int i;

	fprintf(out, ", \"%s\": [", name);
	for (i = 0; i < nr && keys[i]; i++) {
		if (i)
			fputs(", ", out);
		json_str(out, keys[i]);
	}
	fputc(']', out);
}

static void json_group(FILE *out, const struct bench_group *g)
{
	json_field(out, "  {", "name", g->name);
	json_field(out, ", ", "title", g->title);
	json_field(out, ", ", "intro", g->intro);
	fputc('}', out);
}

static bool keys_have(const char *const *keys, unsigned int nr,
		      const char *key)
{
	unsigned int i;

	for (i = 0; i < nr && keys[i]; i++)
		if (!strcmp(keys[i], key))
			return true;
	return false;
}

static bool ratio_uses(const struct bench_ratio *r, const char *key)
{
	return keys_have(r->num, ARRAY_SIZE(r->num), key) ||
	       keys_have(&r->less, 1, key) ||
	       keys_have(r->den, ARRAY_SIZE(r->den), key);
}

/* The names of the rows a case takes part in, and their targets. */
static void json_case_ratios(FILE *out, const struct bench_table *t,
			     const char *key)
{
	const char *sep = "";
	unsigned int i;

	fputs(", \"ratios\": [", out);
	for (i = 0; i < t->nr_ratios; i++) {
		if (!ratio_uses(&t->ratios[i], key))
			continue;
		fputs(sep, out);
		json_str(out, t->ratios[i].name);
		sep = ", ";
	}
	fputc(']', out);
}

static void json_case(FILE *out, const struct bench_table *t,
		      const struct bench_case_info *c)
{
	json_field(out, "  {", "key", c->key);
	json_field(out, ", ", "group", c->id.group);
	json_field(out, ", ", "case", c->id.name);
	fprintf(out, ", \"param\": %lu", c->id.param);
	if (c->param_unit)
		json_field(out, ", ", "param_unit", c->param_unit);
	json_field(out, ", ", "measures", c->measures);
	json_field(out, ", ", "unit", c->unit);
	json_case_ratios(out, t, c->key);
	fputc('}', out);
}

static void json_ratio(FILE *out, const struct bench_ratio *r)
{
	json_field(out, "  {", "group", r->group);
	json_field(out, ", ", "name", r->name);
	json_keys(out, "num", r->num, ARRAY_SIZE(r->num));
	if (r->less)
		json_keys(out, "num_less", &r->less, 1);
	json_keys(out, "den", r->den, ARRAY_SIZE(r->den));
	if (r->op) {
		json_field(out, ", \"target\": {", "op", r->op);
		fprintf(out, ", \"bound\": %g", r->bound);
		if (r->cal[0]) {
			json_field(out, ", ", "cal_num", r->cal[0]);
			json_field(out, ", ", "cal_den", r->cal[1]);
			fprintf(out, ", \"cap\": %g", r->cap);
		}
		fputc('}', out);
	}
	json_field(out, ", ", "reading", r->reading);
	if (r->slower)
		json_field(out, ", ", "reading_slower", r->slower);
	if (r->unmeasured)
		json_field(out, ", ", "reading_unmeasured", r->unmeasured);
	fputc('}', out);
}

static void json_times(FILE *out, const char *sep, const char *name,
		       const double *t, unsigned int n)
{
	unsigned int i;

	fprintf(out, "%s\"%s\": [", sep, name);
	for (i = 0; i < n; i++)
		fprintf(out, "%s%.1f", i ? ", " : "", t[i]);
	fputc(']', out);
}

static void json_result(FILE *out, const struct bench_case_info *c)
{
	const struct bench_result *r = &c->result;

	json_field(out, "  {", "group", c->id.group);
	json_field(out, ", ", "case", c->id.name);
	fprintf(out, ", \"param\": %lu", c->id.param);
	json_field(out, ", ", "key", c->key);
	if (r->error[0]) {
		json_field(out, ", ", "error", r->error);
	} else {
		fprintf(out, ", \"median_ns\": %.1f, \"min_ns\": %.1f, ",
			r->med, r->min);
		fprintf(out, "\"max_ns\": %.1f, \"reps\": %u, \"batch\": %u",
			r->max, r->reps, r->batch);
		fprintf(out, ", \"set\": %u", r->set);
		json_times(out, ", ", "times_ns", r->t, r->reps);
		if (r->has_floor) {
			fputs(", \"floor_ns\": {", out);
			json_times(out, "", "getppid2", r->floor[FLOOR_GETPPID2],
				   r->reps);
			json_times(out, ", ", "ioctl2", r->floor[FLOOR_IOCTL2],
				   r->reps);
			fputc('}', out);
		}
	}
	fputc('}', out);
}

/* The case table, and the results when @results is set. */
void table_print_json(FILE *out, const struct bench *b,
		      const struct bench_group *const *groups,
		      unsigned int nr_groups, bool results)
{
	const struct bench_table *t = &b->table;
	const char *sep = "";
	unsigned int i;

	fprintf(out, "{\"tool\": \"estack-bench\", \"reps\": %u, ", b->reps);
	fprintf(out, "\"batch\": %u, \"cpus\": %ld,\n\"groups\": [\n",
		b->batch, sysconf(_SC_NPROCESSORS_ONLN));
	for (i = 0; i < nr_groups; i++) {
		json_group(out, groups[i]);
		fputs(i + 1 < nr_groups ? ",\n" : "\n", out);
	}
	fputs("],\n\"cases\": [\n", out);
	for (i = 0; i < t->nr_cases; i++) {
		json_case(out, t, &t->cases[i]);
		fputs(i + 1 < t->nr_cases ? ",\n" : "\n", out);
	}
	fputs("],\n\"ratios\": [\n", out);
	for (i = 0; i < t->nr_ratios; i++) {
		json_ratio(out, &t->ratios[i]);
		fputs(i + 1 < t->nr_ratios ? ",\n" : "\n", out);
	}
	fputs("],\n\"results\": [", out);
	for (i = 0; results && i < t->nr_cases; i++) {
		if (!t->cases[i].result.ran)
			continue;
		fputs(sep, out);
		json_result(out, &t->cases[i]);
		sep = ",\n";
	}
	fputs("\n]}\n", out);
}

/* ---- for humans -------------------------------------------------------- */

void table_print_cases(FILE *out, const struct bench_table *t)
{
	unsigned int i;

	fprintf(out, "%-10s %-22s %8s  %s\n", "group", "case", "param",
		"measures");
	for (i = 0; i < t->nr_cases; i++) {
		const struct bench_case_info *c = &t->cases[i];

		fprintf(out, "%-10s %-22s %8lu  %s\n", c->id.group, c->id.name,
			c->id.param, c->measures);
	}
	fprintf(out, "\n%-10s %s\n", "section", "ratio [target]");
	for (i = 0; i < t->nr_ratios; i++) {
		const struct bench_ratio *r = &t->ratios[i];

		fprintf(out, "%-10s %s", r->group, r->name);
		if (r->op && r->cal[0])
			fprintf(out, "  [%s %g x %s / %s, at most %g]", r->op,
				r->bound, r->cal[0], r->cal[1], r->cap);
		else if (r->op)
			fprintf(out, "  [%s %g]", r->op, r->bound);
		fputc('\n', out);
	}
}

void table_print_results(FILE *out, const struct bench_table *t)
{
	unsigned int i;

	fprintf(out, "%-10s %-22s %8s %12s %12s %12s\n", "group", "case",
		"param", "median_ns", "min_ns", "max_ns");
	for (i = 0; i < t->nr_cases; i++) {
		const struct bench_case_info *c = &t->cases[i];
		const struct bench_result *r = &c->result;

		if (!r->ran)
			continue;
		if (r->error[0])
			fprintf(out, "%-10s %-22s %8lu  failed: %s\n",
				c->id.group, c->id.name, c->id.param, r->error);
		else
			fprintf(out, "%-10s %-22s %8lu %12.0f %12.0f %12.0f\n",
				c->id.group, c->id.name, c->id.param, r->med,
				r->min, r->max);
	}
	fprintf(out, "(QEMU TCG: only ratios within one run mean anything)\n");
}
