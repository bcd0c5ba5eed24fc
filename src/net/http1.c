/*
 * http1.c: the HTTP/1.x request head parser and the heads the proxy writes
 * (see http1.h).
 *
 * The parser makes one pass over the bytes, and each byte is examined once
 * across calls: a byte-level check (NUL, control bytes, bare CR or LF, line
 * and head length, the method's bytes, obs-fold) runs as bytes arrive, and
 * each line is parsed as a whole when its CRLF arrives. The order of the
 * checks is the order of the bytes, so the first error found is the same
 * whether the head arrived at once or one byte at a time.
 *
 * Between calls only offsets are kept (the caller's buffer may move); the
 * pointers of struct hs_http_request are set from the buffer of the call
 * that returns DONE.
 */
#define _GNU_SOURCE
#include "http1.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- bytes ---- */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_xdigit(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool mem_ieq(const char *a, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(a, lit, n) == 0;
}

static struct hs_http_span span(uint32_t off, uint32_t len)
{
	/* The head is at most HS_HTTP_HEAD_MAX (< 64 KiB) bytes. */
	return (struct hs_http_span){(uint16_t)off, (uint16_t)len};
}

/* Trims SP and HTAB from both ends of [*off, *off + *n). */
static void trim_ows(const char *buf, uint32_t *off, uint32_t *n)
{
	while (*n && is_ows(buf[*off])) {
		(*off)++;
		(*n)--;
	}
	while (*n && is_ows(buf[*off + *n - 1]))
		(*n)--;
}

/* ---- errors ---- */

static int status_of(enum hs_http_error_code code)
{
	switch (code) {
	case HS_HTTP_E_HEAD_TOO_LARGE:
	case HS_HTTP_E_HEADER_TOO_LONG:
	case HS_HTTP_E_TOO_MANY_HEADERS:
		return 431;
	case HS_HTTP_E_URI_TOO_LONG:
		return 414;
	case HS_HTTP_E_VERSION:
		return 505;
	case HS_HTTP_E_CODING:
		return 501;
	case HS_HTTP_E_USAGE:
		return 500;
	default:
		return 400;
	}
}

static int fail(struct hs_http_request *rq, enum hs_http_error_code code, const char *why)
{
	rq->error_code = code;
	rq->error_status = status_of(code);
	rq->error = why;
	rq->st.result = HS_HTTP_ERROR;
	return HS_HTTP_ERROR;
}

/* ---- authority: host[:port], [v6][:port] ---- */

struct authority {
	uint32_t host_off, host_len;
	bool ip6, has_port;
	uint16_t port;
};

/* Parses buf[off, off + n) as an authority. `bad` is the code for a
 * malformed one (HS_HTTP_E_TARGET, or HS_HTTP_E_HOST for a Host header). */
static int parse_authority(struct hs_http_request *rq, const char *buf, uint32_t off, uint32_t n,
			   bool need_port, enum hs_http_error_code bad, struct authority *a)
{
	const char *p = buf + off;
	uint32_t i;
	memset(a, 0, sizeof(*a));
	if (n == 0)
		return fail(rq, bad, "the host is empty");
	if (memchr(p, '@', n))
		return fail(rq, HS_HTTP_E_USERINFO,
			    "user@host is refused: credentials are not passed through the proxy");
	if (p[0] == '[') {
		const char *close = memchr(p, ']', n);
		bool colon = false;
		if (!close)
			return fail(rq, bad, "an IPv6 literal without its closing ']'");
		uint32_t hl = (uint32_t)(close - p) - 1;
		for (uint32_t k = 1; k <= hl; k++) {
			unsigned char c = (unsigned char)p[k];
			if (c == ':')
				colon = true;
			else if (!is_xdigit(c) && c != '.')
				return fail(rq, bad, "a malformed IPv6 literal");
		}
		if (!colon)
			return fail(rq, bad, "a malformed IPv6 literal");
		a->host_off = off + 1;
		a->host_len = hl;
		a->ip6 = true;
		i = hl + 2;
		if (i < n && p[i] != ':')
			return fail(rq, bad, "bytes after the IPv6 literal");
	} else {
		const char *colon = memchr(p, ':', n);
		i = colon ? (uint32_t)(colon - p) : n;
		if (i == 0)
			return fail(rq, bad, "the host is empty");
		for (uint32_t k = 0; k < i; k++)
			if (p[k] && strchr("/?#[]\\ \t", p[k]))
				return fail(rq, bad, "a malformed host");
		a->host_off = off;
		a->host_len = i;
	}
	if (i < n) { /* p[i] == ':' */
		uint32_t plen = n - i - 1, port = 0;
		if (plen == 0 || plen > 5)
			return fail(rq, HS_HTTP_E_PORT, "a malformed port");
		for (uint32_t k = 0; k < plen; k++) {
			unsigned char c = (unsigned char)p[i + 1 + k];
			if (!is_digit(c))
				return fail(rq, HS_HTTP_E_PORT, "a malformed port");
			port = port * 10 + (uint32_t)(c - '0');
		}
		if (port == 0 || port > 65535)
			return fail(rq, HS_HTTP_E_PORT, "the port is not in 1-65535");
		a->has_port = true;
		a->port = (uint16_t)port;
	} else if (need_port) {
		return fail(rq, HS_HTTP_E_PORT, "CONNECT needs host:port");
	} else {
		a->port = 80;
	}
	return 0;
}

static void set_authority(struct hs_http_request *rq, uint32_t off, uint32_t n,
			  const struct authority *a)
{
	rq->authority_span = span(off, n);
	rq->host_span = span(a->host_off, a->host_len);
	rq->host_is_ip6 = a->ip6;
	rq->port = a->port;
	rq->port_explicit = a->has_port;
}

/* ---- the request line ---- */

static int parse_version(struct hs_http_request *rq, const char *v, uint32_t n)
{
	if (n == 8 && memcmp(v, "HTTP/", 5) == 0 && is_digit((unsigned char)v[5]) && v[6] == '.' &&
	    is_digit((unsigned char)v[7])) {
		if (v[5] == '1' && (v[7] == '0' || v[7] == '1')) {
			rq->version = 10 + (v[7] - '0');
			return 0;
		}
		return fail(rq, HS_HTTP_E_VERSION, "only HTTP/1.0 and HTTP/1.1 are supported");
	}
	return fail(rq, HS_HTTP_E_REQUEST_LINE, "a malformed HTTP version");
}

/* http://authority[/path][?query] (scheme compared without case). */
static int parse_absolute(struct hs_http_request *rq, const char *buf, uint32_t off, uint32_t n)
{
	const char *t = buf + off;
	uint32_t s = 0;
	while (s < n && (is_alpha((unsigned char)t[s]) ||
			 (s > 0 && (is_digit((unsigned char)t[s]) || t[s] == '+' || t[s] == '-' ||
				    t[s] == '.'))))
		s++;
	if (s == 0 || s + 3 > n || memcmp(t + s, "://", 3) != 0)
		return fail(rq, HS_HTTP_E_TARGET, "a malformed request target");
	if (mem_ieq(t, s, "https"))
		return fail(rq, HS_HTTP_E_SCHEME,
			    "https:// URLs are not forwarded: HTTPS goes through CONNECT "
			    "(a proxy URL of the form http://HOST:PORT)");
	if (!mem_ieq(t, s, "http"))
		return fail(rq, HS_HTTP_E_SCHEME, "only http:// URLs are forwarded");
	uint32_t aoff = s + 3, aend = aoff;
	while (aend < n && t[aend] != '/' && t[aend] != '?')
		aend++;
	struct authority a;
	if (parse_authority(rq, buf, off + aoff, aend - aoff, false, HS_HTTP_E_TARGET, &a) < 0)
		return HS_HTTP_ERROR;
	set_authority(rq, off + aoff, aend - aoff, &a);
	rq->path_span = span(off + aend, n - aend);
	rq->form = HS_HTTP_FORM_ABSOLUTE;
	return 0;
}

static int parse_request_line(struct hs_http_request *rq, const char *buf, uint32_t off, uint32_t n)
{
	const char *l = buf + off;
	const char *sp1 = memchr(l, ' ', n);
	if (!sp1 || sp1 == l)
		return fail(rq, HS_HTTP_E_REQUEST_LINE,
			    "a malformed request line (expected METHOD TARGET HTTP/1.1)");
	uint32_t mlen = (uint32_t)(sp1 - l);
	for (uint32_t k = 0; k < mlen; k++)
		if (!is_tchar((unsigned char)l[k]))
			return fail(rq, HS_HTTP_E_METHOD, "an invalid byte in the method");
	uint32_t toff = mlen + 1;
	const char *sp2 = memchr(l + toff, ' ', n - toff);
	if (!sp2 || sp2 == l + toff)
		return fail(rq, HS_HTTP_E_REQUEST_LINE,
			    "a malformed request line (expected METHOD TARGET HTTP/1.1)");
	uint32_t tlen = (uint32_t)(sp2 - (l + toff)), voff = toff + tlen + 1;
	if (memchr(l + voff, ' ', n - voff))
		return fail(rq, HS_HTTP_E_REQUEST_LINE, "a malformed request line (extra spaces)");
	if (parse_version(rq, l + voff, n - voff) < 0)
		return HS_HTTP_ERROR;

	rq->method_span = span(off, mlen);
	rq->target_span = span(off + toff, tlen);
	const char *t = l + toff;
	for (uint32_t k = 0; k < tlen; k++)
		if (t[k] == '\t' || t[k] == '#')
			return fail(rq, HS_HTTP_E_TARGET, "a tab or '#' in the request target");
	rq->is_connect = mlen == 7 && memcmp(l, "CONNECT", 7) == 0; /* methods are case-sensitive */
	if (rq->is_connect) {
		struct authority a;
		if (parse_authority(rq, buf, off + toff, tlen, true, HS_HTTP_E_TARGET, &a) < 0)
			return HS_HTTP_ERROR;
		set_authority(rq, off + toff, tlen, &a);
		rq->path_span = span(off + toff + tlen, 0);
		rq->form = HS_HTTP_FORM_AUTHORITY;
		return 0;
	}
	if (t[0] == '/') {
		rq->path_span = span(off + toff, tlen);
		rq->form = HS_HTTP_FORM_ORIGIN;
		return 0;
	}
	if (tlen == 1 && t[0] == '*')
		return fail(rq, HS_HTTP_E_TARGET, "the asterisk form (OPTIONS *) is not supported");
	return parse_absolute(rq, buf, off + toff, tlen);
}

/* ---- header lines ---- */

/* Content-Length: 1*DIGIT, or a list of identical values ("5, 5"). */
static int parse_content_length(struct hs_http_request *rq, const char *buf, uint32_t off,
				uint32_t n)
{
	uint32_t i = 0;
	for (;;) {
		uint32_t start = i;
		while (i < n && buf[off + i] != ',')
			i++;
		uint32_t eoff = off + start, elen = i - start;
		trim_ows(buf, &eoff, &elen);
		if (elen == 0)
			return fail(rq, HS_HTTP_E_FRAMING, "a malformed Content-Length");
		uint64_t v = 0;
		for (uint32_t k = 0; k < elen; k++) {
			unsigned char c = (unsigned char)buf[eoff + k];
			if (!is_digit(c))
				return fail(rq, HS_HTTP_E_FRAMING, "a malformed Content-Length");
			if (v > (UINT64_C(1) << 58))
				return fail(rq, HS_HTTP_E_FRAMING, "a Content-Length too large");
			v = v * 10 + (uint64_t)(c - '0');
		}
		if (rq->st.seen_cl && v != rq->content_length)
			return fail(rq, HS_HTTP_E_FRAMING, "differing Content-Length values");
		rq->st.seen_cl = true;
		rq->content_length = v;
		if (i >= n)
			return 0;
		i++; /* the comma */
	}
}

/* Transfer-Encoding: a list of codings; chunked at most once and (checked
 * at the end of the head) last. */
static int parse_transfer_encoding(struct hs_http_request *rq, const char *buf, uint32_t off,
				   uint32_t n)
{
	static const char *const known[] = {"chunked",	"gzip",	  "deflate",
					    "compress", "x-gzip", "x-compress"};
	uint32_t i = 0;
	if (rq->version == 10)
		return fail(rq, HS_HTTP_E_FRAMING, "Transfer-Encoding in an HTTP/1.0 request");
	for (;;) {
		uint32_t start = i;
		while (i < n && buf[off + i] != ',')
			i++;
		uint32_t eoff = off + start, elen = i - start;
		trim_ows(buf, &eoff, &elen);
		if (elen == 0)
			return fail(rq, HS_HTTP_E_FRAMING, "a malformed Transfer-Encoding");
		for (uint32_t k = 0; k < elen; k++)
			if (!is_tchar((unsigned char)buf[eoff + k]))
				return fail(rq, HS_HTTP_E_FRAMING,
					    "a malformed Transfer-Encoding (parameters are "
					    "not supported)");
		bool ok = false;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			ok = ok || mem_ieq(buf + eoff, elen, known[k]);
		if (!ok)
			return fail(rq, HS_HTTP_E_CODING, "an unknown transfer coding");
		bool chunked = mem_ieq(buf + eoff, elen, "chunked");
		if (chunked && rq->st.te_chunked)
			return fail(rq, HS_HTTP_E_FRAMING, "chunked applied more than once");
		if (!chunked && rq->st.te_chunked)
			return fail(rq, HS_HTTP_E_FRAMING,
				    "chunked is not the last transfer coding");
		rq->st.te_chunked = chunked;
		if (i >= n)
			return 0;
		i++;
	}
}

/* Calls fn for each token of a comma-separated list; stops when it
 * returns true. Returns -1 on a malformed element, 1 if stopped, else 0. */
static int each_token(const char *buf, uint32_t off, uint32_t n,
		      bool (*fn)(const char *tok, uint32_t len, const void *arg), const void *arg)
{
	uint32_t i = 0;
	for (;;) {
		uint32_t start = i;
		while (i < n && buf[off + i] != ',')
			i++;
		uint32_t eoff = off + start, elen = i - start;
		trim_ows(buf, &eoff, &elen);
		for (uint32_t k = 0; k < elen; k++)
			if (!is_tchar((unsigned char)buf[eoff + k]))
				return -1;
		if (elen && fn(buf + eoff, elen, arg))
			return 1;
		if (i >= n)
			return 0;
		i++;
	}
}

static bool is_framing_name(const char *tok, uint32_t len, const void *arg)
{
	(void)arg;
	return mem_ieq(tok, len, "content-length") || mem_ieq(tok, len, "transfer-encoding");
}

static int parse_header_line(struct hs_http_request *rq, const char *buf, uint32_t off, uint32_t n)
{
	const char *l = buf + off;
	const char *colon = memchr(l, ':', n);
	if (!colon)
		return fail(rq, HS_HTTP_E_HEADER, "a header line without a colon");
	uint32_t nlen = (uint32_t)(colon - l);
	if (nlen == 0)
		return fail(rq, HS_HTTP_E_HEADER, "an empty header name");
	for (uint32_t k = 0; k < nlen; k++) {
		if (is_ows(l[k]))
			return fail(rq, HS_HTTP_E_HEADER,
				    "whitespace between a header name and its colon");
		if (!is_tchar((unsigned char)l[k]))
			return fail(rq, HS_HTTP_E_HEADER, "an invalid byte in a header name");
	}
	if (rq->nheaders >= HS_HTTP_HEADERS_MAX)
		return fail(rq, HS_HTTP_E_TOO_MANY_HEADERS, "more than 100 header lines");
	uint32_t voff = off + nlen + 1, vlen = n - nlen - 1;
	trim_ows(buf, &voff, &vlen);
	struct hs_http_header *h = &rq->headers[rq->nheaders];
	h->name = span(off, nlen);
	h->value = span(voff, vlen);
	rq->nheaders++;

	if (mem_ieq(l, nlen, "host")) {
		if (rq->st.seen_host)
			return fail(rq, HS_HTTP_E_HOST, "more than one Host header");
		rq->st.seen_host = true;
		if (rq->form == HS_HTTP_FORM_ORIGIN) {
			struct authority a;
			if (parse_authority(rq, buf, voff, vlen, false, HS_HTTP_E_HOST, &a) < 0)
				return HS_HTTP_ERROR;
			set_authority(rq, voff, vlen, &a);
		}
	} else if (mem_ieq(l, nlen, "content-length")) {
		if (rq->st.seen_te)
			return fail(rq, HS_HTTP_E_FRAMING,
				    "both Content-Length and Transfer-Encoding");
		return parse_content_length(rq, buf, voff, vlen);
	} else if (mem_ieq(l, nlen, "transfer-encoding")) {
		if (rq->st.seen_cl)
			return fail(rq, HS_HTTP_E_FRAMING,
				    "both Content-Length and Transfer-Encoding");
		rq->st.seen_te = true;
		return parse_transfer_encoding(rq, buf, voff, vlen);
	} else if (mem_ieq(l, nlen, "connection")) {
		int r = each_token(buf, voff, vlen, is_framing_name, NULL);
		if (r < 0)
			return fail(rq, HS_HTTP_E_HEADER, "a malformed Connection header");
		if (r > 0)
			return fail(rq, HS_HTTP_E_FRAMING,
				    "Connection names Content-Length or Transfer-Encoding");
	} else if (mem_ieq(l, nlen, "upgrade")) {
		rq->upgrade = true;
	}
	return 0;
}

/* ---- the end of the head ---- */

static void set_pointers(struct hs_http_request *rq, const char *buf)
{
	rq->method = buf + rq->method_span.off;
	rq->method_len = rq->method_span.len;
	rq->host = buf + rq->host_span.off;
	rq->host_len = rq->host_span.len;
	rq->path = buf + rq->path_span.off;
	rq->path_len = rq->path_span.len;
}

static int finish(struct hs_http_request *rq, const char *buf, uint32_t end)
{
	if (rq->form == HS_HTTP_FORM_ORIGIN && !rq->st.seen_host)
		return fail(rq, HS_HTTP_E_HOST, "a request in origin form without a Host header");
	if (rq->st.seen_te) {
		if (!rq->st.te_chunked)
			return fail(rq, HS_HTTP_E_FRAMING,
				    "chunked is not the last transfer coding");
		rq->body = HS_HTTP_BODY_CHUNKED;
	} else if (rq->st.seen_cl) {
		rq->body = HS_HTTP_BODY_LENGTH;
	}
	if (rq->is_connect) {
		if (rq->body == HS_HTTP_BODY_CHUNKED ||
		    (rq->body == HS_HTTP_BODY_LENGTH && rq->content_length))
			return fail(rq, HS_HTTP_E_FRAMING, "a CONNECT request with a body");
		rq->body = HS_HTTP_BODY_NONE;
	}
	rq->head_len = end;
	set_pointers(rq, buf);
	rq->st.result = HS_HTTP_DONE;
	return HS_HTTP_DONE;
}

static int end_of_line(struct hs_http_request *rq, const char *buf, uint32_t off, uint32_t n,
		       uint32_t end)
{
	if (rq->st.nlines == 0)
		return parse_request_line(rq, buf, off, n) < 0 ? HS_HTTP_ERROR : HS_HTTP_NEED_MORE;
	if (n == 0)
		return finish(rq, buf, end);
	return parse_header_line(rq, buf, off, n) < 0 ? HS_HTTP_ERROR : HS_HTTP_NEED_MORE;
}

/* A better reason than "control byte" for the usual wrong-port mistakes. */
static const char *first_byte_reason(unsigned char c)
{
	if (c == 0x16)
		return "TLS was sent to the HTTP proxy: the proxy URL must be http://, not "
		       "https://";
	if (c == 0x04 || c == 0x05)
		return "SOCKS was sent to the HTTP proxy port";
	return NULL;
}

void hs_http_request_init(struct hs_http_request *rq)
{
	memset(rq, 0, sizeof(*rq));
	rq->st.result = HS_HTTP_NEED_MORE;
}

int hs_http_parse_request(const char *buf, size_t len, struct hs_http_request *rq, size_t *used)
{
	*used = 0;
	if (rq->st.result == HS_HTTP_DONE) {
		if (len < rq->head_len)
			return fail(rq, HS_HTTP_E_USAGE,
				    "the buffer is shorter than the head parsed");
		set_pointers(rq, buf);
		*used = rq->head_len;
		return HS_HTTP_DONE;
	}
	if (rq->st.result != HS_HTTP_NEED_MORE)
		return rq->st.result;
	if (len < rq->st.scan)
		return fail(rq, HS_HTTP_E_USAGE,
			    "the buffer is shorter than the bytes already seen");
	for (uint32_t i = rq->st.scan; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		uint32_t line_len = i - rq->st.line_start;
		rq->st.scan = i + 1;
		if (i >= HS_HTTP_HEAD_MAX)
			return fail(rq, HS_HTTP_E_HEAD_TOO_LARGE,
				    "the request head is larger than 16 KiB");
		if (rq->st.cr) {
			if (c != '\n')
				return fail(rq, HS_HTTP_E_BAD_BYTE, "a CR not followed by LF");
			rq->st.cr = false;
			int r = end_of_line(rq, buf, rq->st.line_start, line_len - 1, i + 1);
			rq->st.line_start = i + 1;
			rq->st.nlines++;
			if (r == HS_HTTP_DONE)
				*used = rq->head_len;
			if (r != HS_HTTP_NEED_MORE)
				return r;
			continue;
		}
		if (c == '\r') {
			rq->st.cr = true;
			continue;
		}
		if (c == '\n')
			return fail(rq, HS_HTTP_E_BAD_BYTE,
				    "a line ends in a bare LF (CRLF expected)");
		if (line_len >= HS_HTTP_LINE_MAX) {
			if (rq->st.nlines == 0)
				return fail(rq, HS_HTTP_E_URI_TOO_LONG,
					    "the request line is longer than 8 KiB");
			return fail(rq, HS_HTTP_E_HEADER_TOO_LONG,
				    "a header line is longer than 8 KiB");
		}
		if (i == 0 && first_byte_reason(c))
			return fail(rq, HS_HTTP_E_BAD_BYTE, first_byte_reason(c));
		if (c == '\0')
			return fail(rq, HS_HTTP_E_BAD_BYTE, "a NUL byte in the request head");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(rq, HS_HTTP_E_BAD_BYTE, "a control byte in the request head");
		if (rq->st.nlines == 0 && !rq->st.method_done) {
			if (c == ' ')
				rq->st.method_done = true;
			else if (!is_tchar(c))
				return fail(rq, HS_HTTP_E_METHOD, "an invalid byte in the method");
		}
		if (rq->st.nlines > 0 && line_len == 0 && is_ows((char)c))
			return fail(rq, HS_HTTP_E_OBS_FOLD,
				    "a header line starts with whitespace (obs-fold)");
	}
	return HS_HTTP_NEED_MORE;
}

const struct hs_http_header *hs_http_find_header(const struct hs_http_request *rq, const char *buf,
						 const char *name)
{
	for (size_t i = 0; i < rq->nheaders; i++) {
		const struct hs_http_header *h = &rq->headers[i];
		if (mem_ieq(buf + h->name.off, h->name.len, name))
			return h;
	}
	return NULL;
}

/* ---- the forwarded head ---- */

struct out {
	char *p;
	size_t cap, len;
	bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_lit(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_span(struct out *o, const char *buf, struct hs_http_span s)
{
	put(o, buf + s.off, s.len);
}

struct name_arg {
	const char *p;
	uint32_t len;
};

static bool token_is(const char *tok, uint32_t len, const void *arg)
{
	const struct name_arg *a = arg;
	return len == a->len && strncasecmp(tok, a->p, len) == 0;
}

/*
 * Headers that concern one connection, or the proxy, and are not passed on
 * (RFC 9110 section 7.6.1), plus those the Connection headers name.
 *
 *   - Host is replaced by the authority the request was routed (and
 *     checked) by: a second opinion from the client would let it reach
 *     another virtual host behind an allowed address.
 *   - Upgrade is dropped, WebSocket included: the proxy makes one request
 *     per upstream connection and ends it with Connection: close, which
 *     also makes the server stop after one response, so bytes the client
 *     pipelines after its request are never read as a second request.
 *     wss:// goes through CONNECT, like any TLS.
 *   - Proxy-Authorization never leaves: it was meant for a proxy.
 *   - Content-Length, Transfer-Encoding and Trailer stay: the body is
 *     relayed byte for byte, so its framing must reach the server as sent
 *     (and the parser refuses a Connection header naming the first two).
 */
static bool hop_by_hop(const char *name, size_t n)
{
	static const char *const hop[] = {"host",
					  "connection",
					  "proxy-connection",
					  "keep-alive",
					  "proxy-authorization",
					  "proxy-authenticate",
					  "te",
					  "upgrade"};
	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (mem_ieq(name, n, hop[i]))
			return true;
	return false;
}

static bool named_by_connection(const struct hs_http_request *rq, const char *buf,
				struct hs_http_span name)
{
	struct name_arg a = {buf + name.off, name.len};
	for (size_t i = 0; i < rq->nheaders; i++) {
		const struct hs_http_header *h = &rq->headers[i];
		if (mem_ieq(buf + h->name.off, h->name.len, "connection") &&
		    each_token(buf, h->value.off, h->value.len, token_is, &a) > 0)
			return true;
	}
	return false;
}

static bool span_in(struct hs_http_span s, size_t limit)
{
	return (size_t)s.off + s.len <= limit;
}

ssize_t hs_http_forward_head(const struct hs_http_request *rq, const char *buf, char *out,
			     size_t cap)
{
	struct out o = {out, cap, 0, false};
	size_t lim = rq->head_len;
	if (rq->st.result != HS_HTTP_DONE || rq->is_connect || !buf || !out)
		return -1;
	if (!span_in(rq->method_span, lim) || !span_in(rq->path_span, lim) ||
	    !span_in(rq->authority_span, lim))
		return -1;
	for (size_t i = 0; i < rq->nheaders; i++)
		if (!span_in(rq->headers[i].name, lim) || !span_in(rq->headers[i].value, lim))
			return -1;

	put_span(&o, buf, rq->method_span);
	puts_lit(&o, " ");
	if (rq->path_span.len == 0 || buf[rq->path_span.off] != '/')
		puts_lit(&o, "/");
	put_span(&o, buf, rq->path_span);
	puts_lit(&o, " HTTP/1.1\r\nHost: ");
	put_span(&o, buf, rq->authority_span);
	puts_lit(&o, "\r\n");
	for (size_t i = 0; i < rq->nheaders; i++) {
		const struct hs_http_header *h = &rq->headers[i];
		if (hop_by_hop(buf + h->name.off, h->name.len) ||
		    named_by_connection(rq, buf, h->name))
			continue;
		put_span(&o, buf, h->name);
		puts_lit(&o, ": ");
		put_span(&o, buf, h->value);
		puts_lit(&o, "\r\n");
	}
	puts_lit(&o, "Connection: close\r\n\r\n");
	return o.overflow ? -1 : (ssize_t)o.len;
}

/* ---- error responses ---- */

const char *hs_http_status_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 407:
		return "Proxy Authentication Required";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

#define TEXT_MAX 512

/* Header text: printable ASCII only, at most TEXT_MAX bytes. */
static void clean_text(const char *s, char *out)
{
	size_t i = 0;
	for (; s[i] && i < TEXT_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	out[i] = '\0';
}

static bool is_token(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return false;
	return true;
}

size_t hs_http_error_response(char *buf, size_t cap, int status, const char *reason,
			      const char *header_name, const char *header_value, const char *body)
{
	char phrase[TEXT_MAX + 1], value[TEXT_MAX + 1], extra[2 * TEXT_MAX + 16];
	if (status < 100 || status > 599)
		status = 500;
	clean_text(reason ? reason : hs_http_status_phrase(status), phrase);
	extra[0] = '\0';
	if (header_name && header_value && is_token(header_name)) {
		clean_text(header_value, value);
		snprintf(extra, sizeof(extra), "%s: %s\r\n", header_name, value);
	}
	size_t blen = body ? strlen(body) : 0;
#define HEAD_FMT                                                                                   \
	"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"     \
	"Connection: close\r\n%s\r\n"
	int head;
	/* The body is cut to what fits; its length changes the head's by a
	 * few digits, so settle both (at most a few rounds). */
	for (;;) {
		head = snprintf(NULL, 0, HEAD_FMT, status, phrase, blen, extra);
		if (head < 0 || (size_t)head + 1 > cap)
			return 0;
		if ((size_t)head + blen + 1 <= cap)
			break;
		blen = cap - (size_t)head - 1;
	}
	snprintf(buf, cap, HEAD_FMT, status, phrase, blen, extra);
#undef HEAD_FMT
	for (size_t i = 0; i < blen; i++) {
		unsigned char c = (unsigned char)body[i];
		buf[(size_t)head + i] =
		    ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) ? '?' : (char)c;
	}
	buf[(size_t)head + blen] = '\0';
	return (size_t)head + blen;
}
