/*
 * fuzz_audit.c: libFuzzer target for the audit readers. Each input is a
 * JSONL audit store (in a memfd). It is verified (with and without a key)
 * and read back through filters, and must never crash or leak. Properties
 * checked: a refused store comes with a one-line printable message; a
 * store that verifies is read back with no damaged lines and the same
 * number of records; and after appending one record to it through the real
 * sink, it still verifies, one record longer; and every well-formed record
 * line serializes (our serializer) exactly as jansson prints it. Violations
 * abort.
 */
#define _GNU_SOURCE
#include "audit/audit-int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char fuzz_key[] = "fuzz-key-0123456789abcdef";

static void check(bool ok, const char *what, const char *detail)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_audit: %s\n%s\n", what, detail ? detail : "");
	abort();
}

static void check_message(const struct hs_error *err)
{
	check(err->msg[0] != '\0', "refused without a message", NULL);
	for (const char *c = err->msg; *c; c++)
		check((unsigned char)*c >= 0x20 && *c != 0x7f, "control character in message",
		      err->msg);
}

struct tally {
	uint64_t records, damaged;
};

static int count_record(json_t *rec, void *ctx)
{
	struct tally *t = ctx;
	if (!rec) {
		t->damaged++;
		return 0;
	}
	check(audit_record_shape_error(rec) == NULL, "read gave a malformed record", NULL);
	t->records++;
	return 0;
}

/* 0 intact, -1/-2 refused (message checked); *count = records. */
static int verify(int fd, const unsigned char *key, size_t keylen, uint64_t *count)
{
	struct audit_verifier v;
	struct hs_error err;
	hs_error_clear(&err);
	audit_verifier_init(&v, key, keylen);
	int r = audit_jsonl_verify_fd(fd, "fuzz", &v, &err);
	if (r < 0)
		check_message(&err);
	*count = v.count;
	audit_verifier_free(&v);
	return r;
}

static void read_back(int fd, bool intact, uint64_t count)
{
	struct hs_audit_filter all = {0};
	struct hs_audit_filter some = {
		.since_us = 1, .action = "exec", .after_seq = 2, .limit = 2, .outcome = "blocked"};
	struct tally t = {0}, t2 = {0};
	struct hs_error err;
	check(audit_jsonl_read_fd(fd, "fuzz", &all, count_record, &t, &err) == 0, "read failed",
	      err.msg);
	check(audit_jsonl_read_fd(fd, "fuzz", &some, count_record, &t2, &err) == 0,
	      "filtered read failed", err.msg);
	check(t2.records <= 2, "limit not honoured", NULL);
	if (intact)
		check(t.damaged == 0 && t.records == count, "verified store reads back differently",
		      NULL);
}

/* Appends one record through the sink; an intact store must stay intact. */
static void append_one(int fd, bool keyed, uint64_t count)
{
	struct audit_hasher h;
	struct audit_sink *s;
	struct hs_error err;
	char path[64];
	uint64_t after;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	check(audit_hasher_init(&h, keyed ? fuzz_key : NULL, keyed ? sizeof(fuzz_key) - 1 : 0,
				&err) == 0,
	      "hasher", err.msg);
	struct audit_open_args a = {.hasher = &h, .origin = {.run_id = "r", .agent_id = "a"}};
	if (audit_jsonl_open(path, &a, &s, &err) == 0) {
		struct hs_audit_event ev = {.action_type = "exec", .target = "/bin/true"};
		struct audit_rec rec;
		audit_rec_from_event(&rec, &a.origin, &ev, 1);
		int r = s->ops->append(s, &rec, 1, &err);
		if (r < 0)
			check_message(&err);
		audit_rec_free(&rec);
		s->ops->close(s);
		check(verify(fd, keyed ? fuzz_key : NULL, keyed ? sizeof(fuzz_key) - 1 : 0,
			     &after) == 0 &&
			      after == count + (r == 0),
		      "an intact store no longer verifies after an append", NULL);
	} else {
		check_message(&err);
	}
	audit_hasher_free(&h);
}

/* Every line that is a well-formed record must serialize, through our own
 * serializer, to exactly what jansson prints for it: the canonical form is
 * defined by jansson's flags, and the hash depends on every byte. */
static void check_serializer(const uint8_t *data, size_t size)
{
	char *scratch = hs_xmalloc(AUDIT_SCRATCH);
	for (size_t start = 0; start < size;) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - (data + start)) : size - start;
		json_t *rec = json_loadb((const char *)data + start, len,
					 JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
		if (rec && !audit_record_shape_error(rec)) {
			struct audit_rec r;
			char *want = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
			audit_rec_from_json(&r, rec);
			size_t n = audit_rec_serialize(&r, true, scratch, AUDIT_SCRATCH);
			check(want && n == strlen(want) && !memcmp(want, scratch, n),
			      "serializer differs from jansson", want);
			audit_rec_free(&r);
			free(want);
		}
		json_decref(rec);
		start += len + 1;
	}
	free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-audit", MFD_CLOEXEC);
	uint64_t count, keyed_count;
	if (fd < 0 || (size && hs_write_all(fd, data, size) < 0)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	check_serializer(data, size);
	int plain = verify(fd, NULL, 0, &count);
	int keyed = verify(fd, fuzz_key, sizeof(fuzz_key) - 1, &keyed_count);
	read_back(fd, plain == 0, count);
	if (plain == 0 && count > 0)
		append_one(fd, false, count);
	else if (keyed == 0 && keyed_count > 0)
		append_one(fd, true, keyed_count);
	close(fd);
	return 0;
}
