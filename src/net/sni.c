/*
 * sni.c: the server name of a TLS ClientHello (see sni.h).
 *
 * Two steps. First the records: each must be a handshake record (type 22,
 * version 3.x, 1..2^14 bytes); their fragments are listed until they hold
 * the 4-byte handshake header and then the whole ClientHello. Errors that
 * the bytes so far already show (not TLS, not a ClientHello, too large,
 * more bytes declared than the ClientHello needs) are reported before the
 * rest arrives. Then the ClientHello body, read in place when it sits in
 * one record (the usual case), else from a copy put together on the
 * stack.
 *
 * Every read goes through struct reader, which checks each length against
 * what is left of the enclosing structure; a nested structure is read
 * through a sub-reader bounded by its own length.
 */
#define _GNU_SOURCE
#include "sni.h"

#include <string.h>

#define REC_HEADER 5
#define REC_MAX (1u << 14) /* TLSPlaintext.length */
#define CT_HANDSHAKE 22
#define HT_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0x0000
#define EXT_ECH 0xfe0d
#define EXT_ESNI 0xffce
#define NAME_TYPE_HOST 0

struct reader {
	const uint8_t *p;
	size_t n, i;
	bool bad;
};

static size_t left(const struct reader *r)
{
	return r->n - r->i;
}

static unsigned u8(struct reader *r)
{
	if (r->bad || left(r) < 1) {
		r->bad = true;
		return 0;
	}
	return r->p[r->i++];
}

static unsigned u16(struct reader *r)
{
	unsigned hi = u8(r);
	return hi << 8 | u8(r);
}

/* A sub-reader over the next n bytes (skipped in r). */
static struct reader sub(struct reader *r, size_t n)
{
	struct reader s = {r->p + r->i, n, 0, r->bad};
	if (r->bad || left(r) < n) {
		r->bad = s.bad = true;
		s.n = 0;
		return s;
	}
	r->i += n;
	return s;
}

static int fail(struct hs_sni *out, const char *why)
{
	out->error = why;
	return HS_SNI_ERROR;
}

/* server_name: ServerNameList <1..2^16-1> of (name_type, HostName <1..2^16-1>). */
static int server_name(struct hs_sni *out, struct reader ext)
{
	struct reader list = sub(&ext, u16(&ext));
	if (ext.bad || left(&ext))
		return fail(out, "a server_name extension with a malformed length");
	if (list.n == 0)
		return fail(out, "an empty server_name list");
	bool found = false;
	while (left(&list)) {
		unsigned type = u8(&list);
		if (type != NAME_TYPE_HOST)
			return fail(out, "a server_name of an unknown type");
		struct reader name = sub(&list, u16(&list));
		if (list.bad)
			return fail(out, "a server_name with a malformed length");
		if (found)
			return fail(out, "more than one host_name in server_name");
		if (name.n == 0)
			return fail(out, "an empty host_name");
		if (name.n > HS_SNI_NAME_MAX)
			return fail(out, "a host_name longer than 255 bytes");
		memcpy(out->name, name.p, name.n);
		out->name[name.n] = '\0';
		out->name_len = name.n;
		found = true;
	}
	return HS_SNI_FOUND;
}

/* The ClientHello body (after the 4-byte handshake header). */
static int client_hello(struct hs_sni *out, const uint8_t *p, size_t n)
{
	struct reader r = {p, n, 0, false};
	uint8_t seen[65536 / 8];
	out->legacy_version = (uint16_t)u16(&r);
	(void)sub(&r, 32); /* random */
	struct reader sid = sub(&r, u8(&r));
	struct reader suites = sub(&r, u16(&r));
	struct reader comp = sub(&r, u8(&r));
	if (r.bad)
		return fail(out, "a truncated ClientHello");
	if (out->legacy_version >> 8 != 3)
		return fail(out, "a ClientHello of an unknown version");
	if (sid.n > 32)
		return fail(out, "a session id longer than 32 bytes");
	if (suites.n < 2 || suites.n % 2)
		return fail(out, "a malformed cipher suite list");
	if (comp.n < 1)
		return fail(out, "an empty compression method list");
	if (left(&r) == 0)
		return HS_SNI_NONE; /* no extensions at all */
	struct reader exts = sub(&r, u16(&r));
	if (r.bad || left(&r))
		return fail(out, "an extension block that does not fill the ClientHello");
	memset(seen, 0, sizeof(seen));
	int result = HS_SNI_NONE;
	while (left(&exts)) {
		unsigned type = u16(&exts);
		struct reader ext = sub(&exts, u16(&exts));
		if (exts.bad)
			return fail(out, "an extension with a malformed length");
		if (seen[type >> 3] & (1u << (type & 7)))
			return fail(out, "an extension sent twice");
		seen[type >> 3] = (uint8_t)(seen[type >> 3] | (1u << (type & 7)));
		if (type == EXT_SERVER_NAME) {
			result = server_name(out, ext);
			if (result == HS_SNI_ERROR)
				return result;
		} else if (type == EXT_ECH) {
			out->ech = true;
		} else if (type == EXT_ESNI) {
			out->esni = true;
		}
	}
	return result;
}

struct frag {
	size_t off, len;
};

/* Copies bytes [from, from + n) of the handshake stream out of the fragments. */
static void gather(const uint8_t *buf, const struct frag *f, size_t nf, size_t from, size_t n,
		   uint8_t *dst)
{
	for (size_t k = 0; k < nf && n; k++) {
		if (from >= f[k].len) {
			from -= f[k].len;
			continue;
		}
		size_t take = f[k].len - from < n ? f[k].len - from : n;
		memcpy(dst, buf + f[k].off + from, take);
		dst += take;
		n -= take;
		from = 0;
	}
}

int hs_sni_parse(const uint8_t *buf, size_t len, struct hs_sni *out)
{
	struct frag f[HS_SNI_RECORDS_MAX];
	size_t nf = 0, off = 0, have = 0, declared = 0, need = 0;
	memset(out, 0, sizeof(*out));
	if (len >= 1 && buf[0] != CT_HANDSHAKE) {
		out->not_tls = true;
		return fail(out, "not a TLS handshake");
	}
	for (;;) {
		if (off >= len)
			return HS_SNI_NEED_MORE;
		if (nf == HS_SNI_RECORDS_MAX)
			return fail(out, "a ClientHello spread over more than 32 records");
		if (buf[off] != CT_HANDSHAKE)
			return fail(out, "a record of another type inside the ClientHello");
		if (len - off >= 2 && buf[off + 1] != 3) {
			out->not_tls = off == 0;
			return fail(out, "a record of an unknown version");
		}
		if (len - off < REC_HEADER)
			return HS_SNI_NEED_MORE;
		size_t rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rlen == 0)
			return fail(out, "an empty handshake record");
		if (rlen > REC_MAX)
			return fail(out, "a record longer than 16 KiB");
		size_t avail = len - off - REC_HEADER < rlen ? len - off - REC_HEADER : rlen;
		f[nf++] = (struct frag){off + REC_HEADER, avail};
		have += avail;
		declared += rlen;
		if (!need && have >= 4) {
			uint8_t h[4];
			gather(buf, f, nf, 0, 4, h);
			if (h[0] != HT_CLIENT_HELLO)
				return fail(out,
					    "the first handshake message is not a ClientHello");
			size_t body = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
			if (body > HS_SNI_HELLO_MAX)
				return fail(out, "a ClientHello larger than 16 KiB");
			need = 4 + body;
		}
		if (need && declared > need)
			return fail(out, "bytes after the ClientHello in its record");
		if (avail < rlen)
			return HS_SNI_NEED_MORE;
		off += REC_HEADER + rlen;
		if (need && have == need)
			break;
	}
	out->hello_bytes = off;
	if (nf == 1)
		return client_hello(out, buf + f[0].off + 4, need - 4);
	uint8_t copy[HS_SNI_HELLO_MAX];
	gather(buf, f, nf, 4, need - 4, copy);
	return client_hello(out, copy, need - 4);
}
