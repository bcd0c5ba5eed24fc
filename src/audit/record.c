/*
 * record.c: one audit record: built from an event (struct audit_rec) with
 * every string made valid UTF-8 and cut to its cap and the metadata cut so
 * a record always fits AUDIT_RECORD_MAX (cut, never refused); printed in
 * canonical form, the text the hash covers, by a small serializer that
 * writes exactly what jansson would (jansson's dump costs ~5 us a record,
 * most of the write budget); the shape check readers apply to records they
 * did not write; timestamps; and the query filter.
 */
#define _GNU_SOURCE
#include "audit-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

/* Caps on the caller's strings (bytes before escaping). With them and
 * AUDIT_META_MAX a record stays under AUDIT_RECORD_MAX even when every
 * byte needs a six-character \u escape: 6 * 4.8 KiB + 32 KiB + ~0.5 KiB. */
#define CAP_ACTION 128
#define CAP_TARGET 4096
#define CAP_NAME 256 /* agent_id, approved_by */
#define CAP_RUN_ID 64
#define AUDIT_META_MAX (32 * 1024)     /* metadata, serialized */
#define META_STRING_CUT 256            /* strings in oversized metadata */
#define META_EXCERPT (8 * 1024)        /* last resort: an excerpt */
#define TRUNC_MARK "...[truncated]"

static const char *const outcome_names[] = {
	[HS_OUTCOME_ALLOWED] = "allowed", [HS_OUTCOME_BLOCKED] = "blocked",
	[HS_OUTCOME_FLAGGED] = "flagged", [HS_OUTCOME_APPROVED] = "approved",
	[HS_OUTCOME_DENIED] = "denied",
};

const char *hs_audit_outcome_name(enum hs_audit_outcome o)
{
	if ((unsigned)o < HS_ARRAY_LEN(outcome_names))
		return outcome_names[o];
	return "flagged"; /* an out-of-range value is itself worth a look */
}

/* ---- strings ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid.
 * Rejects overlong forms, surrogates and code points above U+10FFFF, as
 * jansson does, so whatever passes here jansson accepts. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned cp;
	if (c < 0x80)
		return c ? 1 : 0;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

json_t *audit_json_bytes(const char *s, size_t len, size_t max)
{
	const unsigned char *u = (const unsigned char *)(s ? s : "");
	size_t cap = max ? max : len * 4, o = 0, i = 0;
	char *out = hs_xmalloc(cap + sizeof(TRUNC_MARK) + 1);
	if (!s)
		len = 0;
	while (i < len) {
		size_t n = utf8_len(u + i, len - i);
		size_t need = n ? n : 4;
		if (o + need > cap)
			break;
		if (n)
			memcpy(out + o, u + i, n);
		else
			snprintf(out + o, 5, "\\x%02X", u[i]);
		o += need;
		i += n ? n : 1;
	}
	if (i < len) {
		memcpy(out + o, TRUNC_MARK, sizeof(TRUNC_MARK) - 1);
		o += sizeof(TRUNC_MARK) - 1;
	}
	json_t *j = json_stringn(out, o);
	free(out);
	return j ? j : json_string("");
}

json_t *hs_audit_json_bytes(const char *s, size_t len, size_t max)
{
	return audit_json_bytes(s, len, max);
}

/* ---- metadata ---- */

static char *dump_canonical(json_t *j)
{
	return json_dumps(j, CANON_FLAGS);
}

/* Cuts every string in j (recursively) to META_STRING_CUT bytes. */
static void cut_strings(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_object(j)) {
		json_object_foreach(j, k, v) {
			if (json_is_string(v) && json_string_length(v) > META_STRING_CUT)
				json_object_set_new(j, k,
						    audit_json_bytes(json_string_value(v),
								     json_string_length(v),
								     META_STRING_CUT));
			else
				cut_strings(v);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			if (json_is_string(v) && json_string_length(v) > META_STRING_CUT)
				json_array_set_new(j, i,
						   audit_json_bytes(json_string_value(v),
								    json_string_length(v),
								    META_STRING_CUT));
			else
				cut_strings(v);
		}
	}
}

/* The last resort: what the metadata was, as a bounded excerpt. */
static char *meta_excerpt(const char *full)
{
	json_t *m = json_pack("{s:b, s:I}", "truncated", 1, "original_bytes",
			      (json_int_t)strlen(full));
	json_object_set_new(m, "excerpt", audit_json_bytes(full, strlen(full), META_EXCERPT));
	char *d = dump_canonical(m);
	json_decref(m);
	return d;
}

/* Strings cut first; if that is not enough, an excerpt. */
static char *shrink_metadata(json_t *meta, char *full)
{
	json_t *copy = json_deep_copy(meta);
	char *d;
	cut_strings(copy);
	json_object_set_new(copy, "_truncated", json_true());
	d = dump_canonical(copy);
	json_decref(copy);
	if (d && strlen(d) <= AUDIT_META_MAX) {
		free(full);
		return d;
	}
	free(d);
	d = meta_excerpt(full);
	free(full);
	return d;
}

/* The canonical JSON of the event's metadata, at most AUDIT_META_MAX. */
static char *metadata_text(json_t *meta)
{
	char *d;
	if (!meta)
		return hs_xstrdup("{}");
	if (!json_is_object(meta)) {
		json_t *wrap = json_pack("{s:O}", "value", meta);
		d = metadata_text(wrap);
		json_decref(wrap);
		return d;
	}
	d = dump_canonical(meta);
	if (!d)
		return hs_xstrdup("{\"_unprintable\":true}");
	return strlen(d) <= AUDIT_META_MAX ? d : shrink_metadata(meta, d);
}

/* ---- records ---- */

static const char *own(struct audit_rec *r, char *s)
{
	if (r->nowned < HS_ARRAY_LEN(r->owned))
		r->owned[r->nowned++] = s;
	return s;
}

static bool clean_utf8(const char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if (!(k = utf8_len((const unsigned char *)s + i, n - i)))
			return false;
	return true;
}

/* s as valid UTF-8 within max bytes: s itself when it already is. */
static const char *clean(struct audit_rec *r, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (!s)
		return "";
	if (n <= max && clean_utf8(s, n))
		return s;
	json_t *j = audit_json_bytes(s, n, max);
	const char *c = own(r, hs_xstrdup(json_string_value(j)));
	json_decref(j);
	return c;
}

static void rec_base(struct audit_rec *r, const struct audit_origin *o, int64_t ts_us)
{
	memset(r, 0, sizeof(*r));
	audit_format_ts(ts_us, r->ts_buf);
	r->ts = r->ts_buf;
	r->run_id = clean(r, o->run_id, CAP_RUN_ID);
	r->agent_id = clean(r, o->agent_id, CAP_NAME);
	r->prev_hash = r->prev_buf;
	r->hash = r->hash_buf;
}

void audit_rec_from_event(struct audit_rec *r, const struct audit_origin *o,
			  const struct hs_audit_event *ev, int64_t ts_us)
{
	rec_base(r, o, ts_us);
	r->action_type = clean(r, ev->action_type, CAP_ACTION);
	r->target = clean(r, ev->target, CAP_TARGET);
	r->outcome = hs_audit_outcome_name(ev->outcome);
	r->duration_ms = ev->duration_ms > INT64_MAX ? INT64_MAX : ev->duration_ms;
	r->metadata = own(r, metadata_text(ev->metadata));
	r->approved_by = clean(r, ev->approved_by, CAP_NAME);
}

void audit_rec_header(struct audit_rec *r, const struct audit_origin *o, const char *alg,
		      int64_t ts_us)
{
	json_t *meta = json_pack("{s:s, s:i, s:s, s:s}", "format", AUDIT_FORMAT_NAME, "version",
				 AUDIT_FORMAT_VERSION, "hash_alg", alg, "harness", HS_VERSION);
	struct hs_audit_event ev = {
		.action_type = AUDIT_HEADER_ACTION,
		.target = "",
		.outcome = HS_OUTCOME_ALLOWED,
		.metadata = meta,
	};
	audit_rec_from_event(r, o, &ev, ts_us);
	json_decref(meta);
}

static const char *get_str(json_t *rec, const char *k)
{
	return json_string_value(json_object_get(rec, k));
}

void audit_rec_from_json(struct audit_rec *r, json_t *rec)
{
	memset(r, 0, sizeof(*r));
	r->seq = (uint64_t)json_integer_value(json_object_get(rec, "seq"));
	r->duration_ms = (uint64_t)json_integer_value(json_object_get(rec, "duration_ms"));
	r->ts = get_str(rec, "ts");
	r->run_id = get_str(rec, "run_id");
	r->agent_id = get_str(rec, "agent_id");
	r->action_type = get_str(rec, "action_type");
	r->target = get_str(rec, "target");
	r->outcome = get_str(rec, "outcome");
	r->approved_by = get_str(rec, "approved_by");
	r->prev_hash = get_str(rec, "prev_hash");
	r->hash = get_str(rec, "hash");
	char *meta = dump_canonical(json_object_get(rec, "metadata"));
	r->metadata = own(r, meta ? meta : hs_xstrdup("{}"));
}

void audit_rec_free(struct audit_rec *r)
{
	for (size_t i = 0; i < r->nowned; i++)
		free(r->owned[i]);
	r->nowned = 0;
}

/* ---- serialization (jansson's canonical form, without jansson) ---- */

struct out {
	char *p;
	size_t n, cap;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->n) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void put_u64(struct out *o, uint64_t v)
{
	char b[24];
	size_t i = sizeof(b);
	do
		b[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	put(o, b + i, sizeof(b) - i);
}

static void put_escape(struct out *o, unsigned cp)
{
	static const char hex[] = "0123456789ABCDEF";
	char b[12];
	if (cp >= 0x10000) {
		cp -= 0x10000;
		put_escape(o, 0xd800 | (cp >> 10));
		put_escape(o, 0xdc00 | (cp & 0x3ff));
		return;
	}
	b[0] = '\\';
	b[1] = 'u';
	for (int i = 0; i < 4; i++)
		b[2 + i] = hex[(cp >> (12 - 4 * i)) & 15];
	put(o, b, 6);
}

static const char *short_escape(unsigned char c)
{
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	default: return NULL;
	}
}

/* One code point of s (valid UTF-8) that needs escaping; returns its
 * length in bytes. */
static size_t put_special(struct out *o, const unsigned char *s)
{
	const char *e = short_escape(*s);
	if (e) {
		put(o, e, 2);
		return 1;
	}
	if (*s < 0x80) {
		put_escape(o, *s);
		return 1;
	}
	size_t n = *s >= 0xf0 ? 4 : *s >= 0xe0 ? 3 : 2, i;
	unsigned cp = *s & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
	for (i = 1; i < n && s[i]; i++) /* s[i]: never past the NUL */
		cp = (cp << 6) | (s[i] & 0x3f);
	put_escape(o, cp);
	return i;
}

/* A JSON string as jansson writes it with JSON_ENSURE_ASCII: \" \\ and
 * the short escapes, other controls and all non-ASCII as \uXXXX
 * (uppercase hex, surrogate pairs above the BMP), '/' and DEL as is. */
static void put_str(struct out *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	put(o, "\"", 1);
	while (*s) {
		const unsigned char *run = s;
		while (*s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
			s++;
		put(o, (const char *)run, (size_t)(s - run));
		if (*s)
			s += put_special(o, s);
	}
	put(o, "\"", 1);
}

static void put_field(struct out *o, const char *key, const char *value)
{
	put(o, key, strlen(key));
	put_str(o, value);
}

size_t audit_rec_serialize(const struct audit_rec *r, bool with_hash, char *buf, size_t cap)
{
	struct out o = {.p = buf, .cap = cap};
	put_field(&o, "{\"action_type\":", r->action_type);
	put_field(&o, ",\"agent_id\":", r->agent_id);
	put_field(&o, ",\"approved_by\":", r->approved_by);
	put(&o, ",\"duration_ms\":", 15);
	put_u64(&o, r->duration_ms);
	if (with_hash)
		put_field(&o, ",\"hash\":", r->hash);
	put(&o, ",\"metadata\":", 12);
	put(&o, r->metadata, strlen(r->metadata));
	put_field(&o, ",\"outcome\":", r->outcome);
	put_field(&o, ",\"prev_hash\":", r->prev_hash);
	put_field(&o, ",\"run_id\":", r->run_id);
	put(&o, ",\"seq\":", 7);
	put_u64(&o, r->seq);
	put_field(&o, ",\"target\":", r->target);
	put_field(&o, ",\"ts\":", r->ts);
	put(&o, "}", 1);
	return o.full ? 0 : o.n;
}

/* ---- shape ---- */

static const struct {
	const char *name;
	json_type type;
} record_fields[] = {
	{"seq", JSON_INTEGER},      {"ts", JSON_STRING},          {"run_id", JSON_STRING},
	{"agent_id", JSON_STRING},  {"action_type", JSON_STRING}, {"target", JSON_STRING},
	{"outcome", JSON_STRING},   {"duration_ms", JSON_INTEGER}, {"metadata", JSON_OBJECT},
	{"approved_by", JSON_STRING}, {"prev_hash", JSON_STRING}, {"hash", JSON_STRING},
};

const char *audit_record_shape_error(json_t *rec)
{
	static __thread char why[96];
	if (!json_is_object(rec))
		return "not a JSON object";
	for (size_t i = 0; i < HS_ARRAY_LEN(record_fields); i++) {
		json_t *v = json_object_get(rec, record_fields[i].name);
		if (!v)
			snprintf(why, sizeof(why), "field %s is missing", record_fields[i].name);
		else if (json_typeof(v) != record_fields[i].type)
			snprintf(why, sizeof(why), "field %s has the wrong type",
				 record_fields[i].name);
		else if (json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v))
			snprintf(why, sizeof(why), "field %s contains a NUL byte",
				 record_fields[i].name);
		else
			continue;
		return why;
	}
	if (json_object_size(rec) != HS_ARRAY_LEN(record_fields))
		return "unknown fields beside the record's";
	if (json_integer_value(json_object_get(rec, "seq")) < 1)
		return "seq is not a positive integer";
	if (json_integer_value(json_object_get(rec, "duration_ms")) < 0)
		return "duration_ms is negative";
	return NULL;
}

const char *audit_header_alg(json_t *rec, const char **why)
{
	json_t *m = json_object_get(rec, "metadata");
	const char *alg = json_string_value(json_object_get(m, "hash_alg"));
	const char *fmt = json_string_value(json_object_get(m, "format"));
	json_t *ver = json_object_get(m, "version");
	*why = NULL;
	if (strcmp(json_string_value(json_object_get(rec, "action_type")), AUDIT_HEADER_ACTION))
		*why = "the first record is not an audit.init header";
	else if (!fmt || strcmp(fmt, AUDIT_FORMAT_NAME))
		*why = "the header does not name the harness-audit format";
	else if (!json_is_integer(ver) || json_integer_value(ver) != AUDIT_FORMAT_VERSION)
		*why = "the header names an unknown format version";
	else if (!alg || (strcmp(alg, AUDIT_ALG_SHA256) && strcmp(alg, AUDIT_ALG_HMAC)))
		*why = "the header names an unknown hash algorithm";
	return *why ? NULL : alg;
}

/* ---- filter ---- */

static bool str_field_is(json_t *rec, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(rec, key));
	return !want || (v && !strcmp(v, want));
}

/* "exec" matches "exec" and "exec.*"; "run" matches "run.start". */
static bool action_matches(const char *action, const char *want)
{
	size_t n = strlen(want);
	return !strncmp(action, want, n) && (action[n] == '\0' || action[n] == '.' ||
					     (n > 0 && want[n - 1] == '.'));
}

bool audit_filter_match(const struct hs_audit_filter *f, json_t *rec)
{
	if (!f)
		return true;
	if (f->after_seq &&
	    (uint64_t)json_integer_value(json_object_get(rec, "seq")) <= f->after_seq)
		return false;
	if (f->since_us) {
		int64_t ts;
		if (audit_parse_ts(json_string_value(json_object_get(rec, "ts")), &ts) < 0 ||
		    ts < f->since_us)
			return false;
	}
	if (f->action &&
	    !action_matches(json_string_value(json_object_get(rec, "action_type")), f->action))
		return false;
	return str_field_is(rec, "outcome", f->outcome) && str_field_is(rec, "run_id", f->run_id) &&
	       str_field_is(rec, "agent_id", f->agent_id);
}

/* ---- time ---- */

int64_t audit_now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

int64_t hs_audit_now_us(void)
{
	return audit_now_us();
}

/* The proleptic Gregorian date of day z (days since 1970-01-01, z >= 0).
 * Counted from 0000-03-01, so that the leap day ends a year: 400-year
 * eras of 146097 days, in which year-of-era yoe starts at day
 * 365 yoe + yoe/4 - yoe/100, and months from March follow the 153-days-
 * per-5-months pattern (31 30 31 30 31). gmtime_r would do, but glibc's
 * takes the time-zone lock and, the first time, reads /etc/localtime. */
void audit_civil_date(int64_t z, int *year, int *month, int *day)
{
	z += 719468; /* 0000-03-01 to 1970-01-01 */
	int64_t era = z / 146097;
	int64_t doe = z - era * 146097;                                      /* 0 .. 146096 */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0 .. 399 */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0 .. 365 */
	int64_t mp = (5 * doy + 2) / 153;                                    /* 0 = March */
	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = (int)(era * 400 + yoe + (*month <= 2));
}

void audit_format_ts(int64_t us, char out[32])
{
	if (us < 0)
		us = 0;
	int64_t sec = us / 1000000;
	int year, month, day;
	audit_civil_date(sec / 86400, &year, &month, &day);
	int sod = (int)(sec % 86400);
	/* by hand: this runs for every record, and snprintf is slow */
	static const char layout[] = "0000-00-00T00:00:00.000000Z";
	const int fields[][2] = {{year, 4},	    {month, 2},		{day, 2},
				 {sod / 3600, 2},   {sod / 60 % 60, 2}, {sod % 60, 2},
				 {(int)(us % 1000000), 6}};
	char *p = out;
	memcpy(out, layout, sizeof(layout));
	for (size_t i = 0; i < HS_ARRAY_LEN(fields); i++) {
		int v = fields[i][0] % 10000000;
		for (int d = fields[i][1] - 1; d >= 0; d--, v /= 10)
			p[d] = (char)('0' + v % 10);
		p += fields[i][1] + 1;
	}
}

/* n decimal digits at *p into *v; advances *p. */
static int digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		*v = *v * 10 + (**p - '0');
	}
	return 0;
}

static int parse_date(const char **p, struct tm *tm)
{
	int y, mo, d;
	if (digits(p, 4, &y) || *(*p)++ != '-' || digits(p, 2, &mo) || *(*p)++ != '-' ||
	    digits(p, 2, &d))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	tm->tm_year = y - 1900;
	tm->tm_mon = mo - 1;
	tm->tm_mday = d;
	return 0;
}

static int parse_clock(const char **p, struct tm *tm, int64_t *frac_us)
{
	int h, mi, s;
	if (digits(p, 2, &h) || *(*p)++ != ':' || digits(p, 2, &mi) || *(*p)++ != ':' ||
	    digits(p, 2, &s) || h > 23 || mi > 59 || s > 60)
		return -1;
	tm->tm_hour = h;
	tm->tm_min = mi;
	tm->tm_sec = s;
	*frac_us = 0;
	if (**p == '.') {
		int n = 0;
		for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, n++)
			if (n < 6)
				*frac_us = *frac_us * 10 + (**p - '0');
		if (n == 0 || n > 9)
			return -1;
		for (; n < 6; n++)
			*frac_us *= 10;
	}
	return 0;
}

/* "Z" or "+HH:MM" / "-HH:MM" -> seconds east of UTC. */
static int parse_offset(const char **p, int *off)
{
	int h, m, sign;
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*off = 0;
		return 0;
	}
	if (**p != '+' && **p != '-')
		return -1;
	sign = *(*p)++ == '-' ? -1 : 1;
	if (digits(p, 2, &h) || *(*p)++ != ':' || digits(p, 2, &m) || h > 23 || m > 59)
		return -1;
	*off = sign * (h * 3600 + m * 60);
	return 0;
}

/* RFC 3339 date-time, or a bare date (midnight UTC). */
static int parse_rfc3339(const char *s, int64_t *us)
{
	struct tm tm = {0};
	int64_t frac = 0;
	int off = 0;
	const char *p = s;
	if (parse_date(&p, &tm) < 0)
		return -1;
	if (*p) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		p++;
		if (parse_clock(&p, &tm, &frac) < 0 || parse_offset(&p, &off) < 0 || *p)
			return -1;
	}
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*us = ((int64_t)t - off) * 1000000 + frac;
	return 0;
}

int audit_parse_ts(const char *s, int64_t *us)
{
	if (!s || strlen(s) < 20)
		return -1;
	return parse_rfc3339(s, us);
}

int hs_audit_parse_since(const char *s, int64_t now_us, int64_t *out_us)
{
	static const struct {
		char unit;
		int64_t sec;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
	char *end;
	if (!s || !*s)
		return -1;
	if (s[0] >= '0' && s[0] <= '9' && strlen(s) < 16 && strchr(s, '-') == NULL) {
		errno = 0;
		unsigned long long n = strtoull(s, &end, 10);
		for (size_t i = 0; i < HS_ARRAY_LEN(units); i++)
			if (!errno && end[0] == units[i].unit && !end[1] &&
			    n <= (unsigned long long)(INT64_MAX / 1000000 / units[i].sec)) {
				*out_us = now_us - (int64_t)n * units[i].sec * 1000000;
				return 0;
			}
		return -1;
	}
	return parse_rfc3339(s, out_us);
}

bool hs_audit_filter_match(const struct hs_audit_filter *f, json_t *record)
{
	return record && !audit_record_shape_error(record) && audit_filter_match(f, record);
}
