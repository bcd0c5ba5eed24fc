/*
 * cmd_audit.c: `harness audit verify|query|tail|export`: reads audit stores
 * back (src/audit): checks a store's hash chain, lists records through
 * filters as an aligned table, JSON or JSON lines, follows a store as it
 * grows, and exports every field for a SIEM. Exit 0 ok, 1 when verify finds
 * a damaged or tampered store, 125 for usage and I/O errors.
 */
#define _GNU_SOURCE
#include "audit/audit.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_TAMPERED 1
#define FOLLOW_POLL_NS (200 * 1000 * 1000)

static const char audit_usage[] =
	"Usage: harness audit verify [--audit SPEC]... [--audit-key FILE]\n"
	"       harness audit query  [--audit SPEC] [FILTERS] [--limit N] [--format FMT]\n"
	"       harness audit tail   [--audit SPEC] [FILTERS] [-n N] [-f] [--format FMT]\n"
	"       harness audit export [--audit SPEC] [FILTERS] [--format jsonl|json]\n"
	"\n"
	"verify  recompute every record's hash and link; name the first bad record\n"
	"query   list matching records (FMT: table, json or jsonl; default table)\n"
	"tail    the last N records (default 10); -f: then follow new ones until ^C\n"
	"export  every field of every matching record, for SIEMs (default jsonl)\n"
	"\n"
	"SPEC is jsonl:PATH or sqlite:PATH; the default store is\n"
	"sqlite:$XDG_STATE_HOME/harness/audit.db (~/.local/state/harness/audit.db).\n"
	"--audit-key FILE: the HMAC key the store was written with.\n"
	"\n"
	"FILTERS:\n"
	"  --since WHEN     records from WHEN on: 30s, 15m, 2h, 7d, 2w ago, or an\n"
	"                   RFC 3339 time (2026-11-23T18:00:00Z) or date (2026-11-23)\n"
	"  --outcome O      allowed, blocked, flagged, approved or denied\n"
	"  --action TYPE    an action type or its prefix: exec, run (run.start, ...)\n"
	"  --run ID         one run's records\n"
	"  --agent ID       one agent's records\n"
	"\n"
	"Exit status: 0 ok, 1 verify found a damaged or tampered store, 125 usage\n"
	"or I/O error.\n";

enum cmd { CMD_VERIFY, CMD_QUERY, CMD_TAIL, CMD_EXPORT };
enum fmt { FMT_TABLE, FMT_JSON, FMT_JSONL };

struct audit_opts {
	enum cmd cmd;
	struct hs_strv specs;
	const char *key_file;
	struct hs_audit_filter filter;
	enum fmt format;
	bool follow;
	uint64_t count; /* -n / --limit */
	bool filters_given;
};

enum { OPT_SINCE = 256, OPT_OUTCOME, OPT_ACTION, OPT_RUN, OPT_AGENT, OPT_KEY, OPT_LIMIT };

static const struct option audit_options[] = {
	{"audit", required_argument, NULL, 'a'},   {"audit-key", required_argument, NULL, OPT_KEY},
	{"since", required_argument, NULL, OPT_SINCE}, {"outcome", required_argument, NULL, OPT_OUTCOME},
	{"action", required_argument, NULL, OPT_ACTION}, {"run", required_argument, NULL, OPT_RUN},
	{"agent", required_argument, NULL, OPT_AGENT}, {"limit", required_argument, NULL, OPT_LIMIT},
	{"format", required_argument, NULL, 'F'},  {"follow", no_argument, NULL, 'f'},
	{"lines", required_argument, NULL, 'n'},   {"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* ---- option parsing ---- */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	char msg[HS_ERR_MSG_MAX + 64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hs_cli_error("audit: %s (see 'harness audit --help')", msg);
	return HS_EXIT_HARNESS;
}

static int parse_format(struct audit_opts *o, const char *v)
{
	static const char *const names[] = {"table", "json", "jsonl"};
	for (size_t i = 0; i < HS_ARRAY_LEN(names); i++)
		if (!strcmp(v, names[i]) && !(o->cmd == CMD_EXPORT && i == FMT_TABLE)) {
			o->format = (enum fmt)i;
			return 0;
		}
	return usage_error("--format '%s': use %s", v,
			   o->cmd == CMD_EXPORT ? "jsonl or json" : "table, json or jsonl");
}

static int parse_outcome(struct audit_opts *o, const char *v)
{
	for (int i = HS_OUTCOME_ALLOWED; i <= HS_OUTCOME_DENIED; i++)
		if (!strcmp(v, hs_audit_outcome_name((enum hs_audit_outcome)i))) {
			o->filter.outcome = v;
			return 0;
		}
	return usage_error("--outcome '%s': use allowed, blocked, flagged, approved or denied", v);
}

static int parse_count(uint64_t *out, const char *v, const char *flag)
{
	if (hs_parse_u64(v, out) < 0)
		return usage_error("%s '%s': not a number", flag, v);
	return 0;
}

/* Flags only some subcommands take: filters and formats are not for
 * verify; the key is only for verify; -n/-f only for tail. */
static int check_allowed(const struct audit_opts *o, int c)
{
	bool reader = o->cmd != CMD_VERIFY;
	bool ok = c == 'a' || c == 'h' || (c == OPT_KEY && !reader) ||
		  (c == 'n' && o->cmd == CMD_TAIL) || (c == 'f' && o->cmd == CMD_TAIL) ||
		  (c == OPT_LIMIT && o->cmd == CMD_QUERY) || (c != OPT_KEY && c != 'n' && c != 'f' &&
							       c != OPT_LIMIT && reader);
	return ok ? 0 : -1;
}

static int apply_option(struct audit_opts *o, int c, const char *v)
{
	int64_t since;
	o->filters_given |= c >= OPT_SINCE && c <= OPT_AGENT;
	switch (c) {
	case 'a': {
		struct hs_error err;
		if (hs_audit_check_spec(v, &err) < 0)
			return usage_error("%s", err.msg);
		hs_strv_push(&o->specs, v);
		return 0;
	}
	case OPT_KEY: o->key_file = v; return 0;
	case OPT_SINCE:
		if (hs_audit_parse_since(v, hs_audit_now_us(), &since) < 0)
			return usage_error("--since '%s': use a duration (30s, 15m, 2h, 7d, 2w) or an "
					   "RFC 3339 time",
					   v);
		o->filter.since_us = since;
		return 0;
	case OPT_OUTCOME: return parse_outcome(o, v);
	case OPT_ACTION: o->filter.action = v; return 0;
	case OPT_RUN: o->filter.run_id = v; return 0;
	case OPT_AGENT: o->filter.agent_id = v; return 0;
	case OPT_LIMIT: return parse_count(&o->count, v, "--limit");
	case 'n': return parse_count(&o->count, v, "-n");
	case 'F': return parse_format(o, v);
	case 'f': o->follow = true; return 0;
	default: return HS_EXIT_HARNESS;
	}
}

static int unknown_option(char **argv, int c)
{
	char shown[64];
	snprintf(shown, sizeof(shown), "%s", argv[optind - 1]);
	for (char *p = shown; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (c == ':')
		return usage_error("option '%s' needs a value", shown);
	return usage_error("unknown option '%s'", shown);
}

/* Returns 0, -1 after --help, or an exit status. */
static int parse_options(int argc, char **argv, struct audit_opts *o)
{
	static const char *const names[] = {"verify", "query", "tail", "export"};
	int c, r, li = -1;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":a:n:fF:h", audit_options, &li)) != -1) {
		if (c == '?' || c == ':')
			return unknown_option(argv, c);
		if (c == 'h') {
			fputs(audit_usage, stdout);
			return -1;
		}
		if (check_allowed(o, c) < 0) {
			if (li >= 0)
				return usage_error("%s does not take --%s", names[o->cmd],
						   audit_options[li].name);
			return usage_error("%s does not take -%c", names[o->cmd], c);
		}
		if ((r = apply_option(o, c, optarg)) != 0)
			return r;
		li = -1;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->cmd != CMD_VERIFY && o->specs.n > 1)
		return usage_error("%s reads one store; give --audit once", names[o->cmd]);
	if (o->follow && o->format == FMT_JSON)
		return usage_error("tail -f cannot write one JSON document; use --format %s",
				   "jsonl");
	return 0;
}

/* ---- the store ---- */

/* With no --audit, the default store, which must exist already. */
static int use_default_store(struct audit_opts *o)
{
	struct stat st;
	if (o->specs.n)
		return 0;
	char *path = hs_audit_default_path();
	int r = 0;
	if (stat(path, &st) < 0) {
		hs_cli_error("audit: no audit store at %s yet ('harness run' creates it); name one "
			     "with --audit jsonl:PATH or --audit sqlite:PATH",
			     path);
		r = HS_EXIT_HARNESS;
	}
	hs_strv_push_owned(&o->specs, hs_xasprintf("sqlite:%s", path));
	free(path);
	return r;
}

/* ---- verify ---- */

static int verify_one(const char *spec, const unsigned char *key, size_t keylen)
{
	struct hs_audit_summary sum;
	struct hs_error err;
	hs_error_clear(&err);
	int r = hs_audit_verify_store(spec, key, keylen, &sum, &err);
	if (r == -1) {
		hs_cli_error("audit verify: %s", err.msg);
		return EXIT_TAMPERED;
	}
	if (r < 0) {
		hs_cli_error("audit verify: %s", err.msg);
		return HS_EXIT_HARNESS;
	}
	printf("%s: ok: %llu record%s, chain intact (%s)", spec, (unsigned long long)sum.records,
	       sum.records == 1 ? "" : "s", sum.alg[0] ? sum.alg : "empty");
	if (sum.records)
		printf("; last seq %llu hash %s", (unsigned long long)sum.last_seq, sum.last_hash);
	putchar('\n');
	fflush(stdout); /* in order with the errors on stderr */
	return 0;
}

static int cmd_verify(struct audit_opts *o)
{
	unsigned char *key = NULL;
	size_t keylen = 0;
	int worst = 0;
	if (o->key_file) {
		struct hs_error err;
		if (hs_audit_read_key(o->key_file, &key, &keylen, &err) < 0) {
			hs_cli_error("audit verify: %s", err.msg);
			return HS_EXIT_HARNESS;
		}
	}
	for (size_t i = 0; i < o->specs.n; i++) {
		int r = verify_one(o->specs.v[i], key, keylen);
		if (r == EXIT_TAMPERED || (r && !worst))
			worst = r;
	}
	hs_audit_free_key(key, keylen);
	return worst;
}

/* ---- printing records ---- */

struct printer {
	enum fmt format;
	const struct hs_audit_filter *filter; /* applied here (tail -f), or NULL */
	bool quiet;                           /* only note the last seq */
	uint64_t printed, damaged, last_seq;
};

static const char *const field_order[] = {
	"seq",	  "ts",		 "run_id",	"agent_id",  "action_type", "target",
	"outcome", "duration_ms", "metadata", "approved_by", "prev_hash",  "hash",
};

/* The record with its fields in schema order (seq first). */
static void print_json(json_t *rec)
{
	json_t *o = json_object();
	for (size_t i = 0; i < HS_ARRAY_LEN(field_order); i++) {
		json_t *v = json_object_get(rec, field_order[i]);
		if (v)
			json_object_set(o, field_order[i], v);
	}
	json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
}

/* s for a terminal: control characters (C0, DEL, C1) as '?', cut to
 * width code points ('~' marks the cut unless it is an id prefix), padded
 * to width. */
enum cell { CELL_PAD, CELL_ID, CELL_LAST };

static void print_cell(const char *s, size_t width, enum cell kind)
{
	const unsigned char *u = (const unsigned char *)(s ? s : "");
	size_t cols = 0;
	for (; *u && cols < width; cols++) {
		size_t n = 1;
		while ((u[n] & 0xc0) == 0x80 && n < 4)
			n++;
		bool c1 = u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f;
		if (*u < 0x20 || *u == 0x7f || c1 || *u >= 0xf8 || (*u & 0xc0) == 0x80)
			putchar('?');
		else if (cols + 1 == width && u[n] && kind != CELL_ID)
			putchar('~');
		else
			fwrite(u, 1, n, stdout);
		u += n;
	}
	if (kind != CELL_LAST)
		printf("%*s ", (int)(width - cols), "");
}

static void print_table_header(void)
{
	printf("%7s %-20s %-8s %-14s %-40s %s\n", "SEQ", "TIME (UTC)", "RUN", "ACTION", "TARGET",
	       "OUTCOME");
}

static void print_row(json_t *rec)
{
	char time[21] = "";
	const char *ts = json_string_value(json_object_get(rec, "ts"));
	if (ts && strlen(ts) >= 19)
		snprintf(time, sizeof(time), "%.10s %.8s", ts, ts + 11);
	printf("%7lld ", (long long)json_integer_value(json_object_get(rec, "seq")));
	print_cell(time, 20, CELL_PAD);
	print_cell(json_string_value(json_object_get(rec, "run_id")), 8, CELL_ID);
	print_cell(json_string_value(json_object_get(rec, "action_type")), 14, CELL_PAD);
	print_cell(json_string_value(json_object_get(rec, "target")), 40, CELL_PAD);
	print_cell(json_string_value(json_object_get(rec, "outcome")), 10, CELL_LAST);
	putchar('\n');
}

static int print_record(json_t *rec, void *ctx)
{
	struct printer *p = ctx;
	if (!rec) {
		p->damaged++;
		return 0;
	}
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(rec, "seq"));
	if (seq > p->last_seq)
		p->last_seq = seq;
	if (p->quiet || (p->filter && !hs_audit_filter_match(p->filter, rec)))
		return 0;
	if (p->format == FMT_JSON)
		fputs(p->printed ? ",\n" : "[\n", stdout);
	if (p->format == FMT_TABLE && p->printed == 0)
		print_table_header();
	if (p->format == FMT_TABLE)
		print_row(rec);
	else
		print_json(rec);
	if (p->format == FMT_JSONL)
		putchar('\n');
	p->printed++;
	return 0;
}

static int finish_output(struct printer *p, const char *what)
{
	if (p->format == FMT_JSON)
		fputs(p->printed ? "\n]\n" : "[]\n", stdout);
	if (p->damaged)
		hs_cli_error("audit %s: skipped %llu damaged record(s); run 'harness audit verify'",
			     what, (unsigned long long)p->damaged);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		hs_cli_error("audit %s: cannot write the output: %s", what, strerror(errno));
		return HS_EXIT_HARNESS;
	}
	return 0;
}

static int read_store(const struct audit_opts *o, const struct hs_audit_filter *f,
		      struct printer *p, const char *what)
{
	struct hs_error err;
	hs_error_clear(&err);
	if (hs_audit_read(o->specs.v[0], f, print_record, p, &err) < 0) {
		hs_cli_error("audit %s: %s", what, err.msg);
		return HS_EXIT_HARNESS;
	}
	return 0;
}

/* ---- query, export, tail ---- */

static int cmd_list(struct audit_opts *o, const char *what)
{
	struct printer p = {.format = o->format};
	o->filter.limit = o->count;
	int r = read_store(o, &o->filter, &p, what);
	int w = finish_output(&p, what);
	return r ? r : w;
}

static volatile sig_atomic_t stop_following;

static void on_stop(int sig)
{
	(void)sig;
	stop_following = 1;
}

static void catch_stop_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop}; /* no SA_RESTART: wake the sleep */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Polls every 200 ms for records after the last one seen (any record, not
 * only matching ones, so the position keeps moving). */
static int follow(struct audit_opts *o, struct printer *p)
{
	struct hs_audit_filter after = {0};
	struct timespec nap = {0, FOLLOW_POLL_NS};
	catch_stop_signals();
	p->filter = &o->filter;
	while (!stop_following) {
		nanosleep(&nap, NULL);
		if (stop_following)
			break;
		after.after_seq = p->last_seq;
		int r = read_store(o, &after, p, "tail");
		if (r || fflush(stdout) != 0)
			return r ? r : HS_EXIT_HARNESS;
	}
	return 0;
}

static int cmd_tail(struct audit_opts *o)
{
	struct printer p = {.format = o->format};
	struct hs_audit_filter last = {.limit = 1};
	o->filter.limit = o->count ? o->count : 10;
	int r = read_store(o, &o->filter, &p, "tail");
	if (r == 0 && o->follow) {
		/* Start following at the store's end, whatever the filter matched. */
		struct printer probe = {.quiet = true};
		r = read_store(o, &last, &probe, "tail");
		p.last_seq = probe.last_seq > p.last_seq ? probe.last_seq : p.last_seq;
		fflush(stdout);
		if (r == 0)
			r = follow(o, &p);
	}
	int w = finish_output(&p, "tail");
	return r ? r : w;
}

int hs_cmd_audit(int argc, char **argv)
{
	static const char *const names[] = {"verify", "query", "tail", "export"};
	struct audit_opts o = {.format = FMT_TABLE};
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(audit_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? HS_EXIT_HARNESS : 0;
	}
	size_t i = 0;
	while (i < HS_ARRAY_LEN(names) && strcmp(argv[1], names[i]))
		i++;
	if (i == HS_ARRAY_LEN(names))
		return usage_error("unknown subcommand '%s'; use verify, query, tail or export",
				   argv[1]);
	o.cmd = (enum cmd)i;
	if (o.cmd == CMD_EXPORT)
		o.format = FMT_JSONL;
	int r = parse_options(argc - 1, argv + 1, &o);
	if (r == 0)
		r = use_default_store(&o);
	if (r == 0)
		r = o.cmd == CMD_VERIFY	 ? cmd_verify(&o)
		    : o.cmd == CMD_TAIL	 ? cmd_tail(&o)
		    : o.cmd == CMD_QUERY ? cmd_list(&o, "query")
					 : cmd_list(&o, "export");
	hs_strv_clear(&o.specs);
	return r < 0 ? 0 : r;
}
