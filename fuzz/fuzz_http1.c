/*
 * fuzz_http1.c: libFuzzer target for the HTTP/1.x request head parser and
 * the heads built from it (net/http1.c).
 *
 * Input: two bytes choosing a split point, then the bytes a client sends.
 * Checked on every input:
 *   - the head parsed at once and parsed in two calls (split at the chosen
 *     point, the second call given a moved copy of the buffer) end the
 *     same way: result, length, error, every span;
 *   - a DONE head is within its bounds (length, header count, spans inside
 *     the head, a host, a port);
 *   - the forwarded head of a non-CONNECT request fits in head_len +
 *     HS_HTTP_FORWARD_EXTRA,
 *     parses again in origin form to the same host, port and body
 *     framing, and carries no hop-by-hop header but one Connection: close;
 *   - an error response built from the input as header value and body has
 *     exactly its fixed header lines and a Content-Length equal to its
 *     body.
 * Violations abort.
 */
#include "net/http1.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_http1: %s\n", what);
	abort();
}

static bool span_ok(struct hs_http_span s, size_t limit)
{
	return (size_t)s.off + s.len <= limit;
}

static void same(const struct hs_http_request *a, const struct hs_http_request *b)
{
	check(a->form == b->form && a->port == b->port && a->is_connect == b->is_connect &&
		  a->host_is_ip6 == b->host_is_ip6 && a->version == b->version &&
		  a->body == b->body && a->content_length == b->content_length &&
		  a->head_len == b->head_len && a->nheaders == b->nheaders &&
		  a->upgrade == b->upgrade && a->port_explicit == b->port_explicit,
	      "split parse differs (fields)");
	check(memcmp(&a->host_span, &b->host_span, sizeof(a->host_span)) == 0 &&
		  memcmp(&a->path_span, &b->path_span, sizeof(a->path_span)) == 0 &&
		  memcmp(&a->method_span, &b->method_span, sizeof(a->method_span)) == 0 &&
		  memcmp(&a->authority_span, &b->authority_span, sizeof(a->authority_span)) == 0 &&
		  memcmp(a->headers, b->headers, a->nheaders * sizeof(a->headers[0])) == 0,
	      "split parse differs (spans)");
}

static bool is_hop(const char *p, size_t n)
{
	static const char *const hop[] = {"connection",
					  "proxy-connection",
					  "keep-alive",
					  "proxy-authorization",
					  "proxy-authenticate",
					  "te",
					  "upgrade"};
	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strlen(hop[i]) == n && strncasecmp(p, hop[i], n) == 0)
			return true;
	return false;
}

static void check_forward(const struct hs_http_request *rq, const char *buf)
{
	size_t cap = rq->head_len + HS_HTTP_FORWARD_EXTRA;
	char *out = malloc(cap);
	check(out != NULL, "out of memory");
	ssize_t n = hs_http_forward_head(rq, buf, out, cap);
	check(n > 0, "a parsed request cannot be forwarded within its bound");
	struct hs_http_request fw;
	size_t used;
	hs_http_request_init(&fw);
	int r = hs_http_parse_request(out, (size_t)n, &fw, &used);
	if (r == HS_HTTP_ERROR) {
		/* More headers or bytes than a head may have: the Host and
		 * Connection lines added to a head already at the bound. */
		check(fw.error_code == HS_HTTP_E_TOO_MANY_HEADERS ||
			  fw.error_code == HS_HTTP_E_HEAD_TOO_LARGE,
		      "the forwarded head does not parse");
		free(out);
		return;
	}
	check(r == HS_HTTP_DONE && used == (size_t)n, "the forwarded head is not one whole head");
	check(fw.form == HS_HTTP_FORM_ORIGIN, "the forwarded head is not in origin form");
	check(fw.host_len == rq->host_len && memcmp(fw.host, rq->host, rq->host_len) == 0 &&
		  fw.port == rq->port && fw.host_is_ip6 == rq->host_is_ip6,
	      "the forwarded head goes elsewhere");
	check(fw.body == rq->body && fw.content_length == rq->content_length,
	      "the forwarded head frames the body differently");
	check(fw.method_len == rq->method_len && memcmp(fw.method, rq->method, rq->method_len) == 0,
	      "the forwarded method differs");
	size_t conn = 0;
	for (size_t i = 0; i < fw.nheaders; i++) {
		const char *name = out + fw.headers[i].name.off;
		size_t len = fw.headers[i].name.len;
		if (len == 10 && strncasecmp(name, "connection", 10) == 0) {
			check(fw.headers[i].value.len == 5 &&
				  memcmp(out + fw.headers[i].value.off, "close", 5) == 0,
			      "a Connection header other than ours");
			conn++;
		} else {
			check(!is_hop(name, len), "a hop-by-hop header forwarded");
		}
	}
	check(conn == 1, "not exactly one Connection: close");
	free(out);
}

static void check_error_response(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), buf[2048];
	check(text != NULL, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	size_t cap = 200 + (size % 1800);
	size_t n = hs_http_error_response(buf, cap, 400 + (int)(size % 200), text,
					  "X-Harness-Refused", text, text);
	free(text);
	if (n == 0)
		return;
	check(n < cap && buf[n] == '\0', "response not within its buffer");
	const char *end = strstr(buf, "\r\n\r\n");
	check(end != NULL, "no end of head");
	size_t lines = 0;
	for (const char *p = buf; p < end + 2; p++) {
		if (*p == '\r') {
			check(p[1] == '\n', "a bare CR in the head");
			lines++;
			p++;
		} else {
			check(*p != '\n', "a bare LF in the head");
		}
	}
	check(lines == 5, "not exactly the fixed header lines");
	const char *cl = strstr(buf, "\r\nContent-Length: ");
	check(cl && cl < end, "no Content-Length");
	check(strtoul(cl + 18, NULL, 10) == n - (size_t)(end + 4 - buf),
	      "Content-Length is not the body's");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t n = size - 2, split = ((size_t)data[0] << 8 | data[1]) % (n + 1);
	const char *in = (const char *)data + 2;
	struct hs_http_request a, b;
	size_t used_a, used_b;

	hs_http_request_init(&a);
	int ra = hs_http_parse_request(in, n, &a, &used_a);

	hs_http_request_init(&b);
	char *first = malloc(split + 1), *second = malloc(n + 1);
	check(first && second, "out of memory");
	memcpy(first, in, split);
	memcpy(second, in, n);
	int rb = hs_http_parse_request(first, split, &b, &used_b);
	const char *last = first;
	if (rb == HS_HTTP_NEED_MORE) {
		rb = hs_http_parse_request(second, n, &b, &used_b);
		last = second;
	}

	check(ra == rb, "split parse ends differently");
	if (ra == HS_HTTP_ERROR) {
		check(a.error_code == b.error_code && a.error_status == b.error_status &&
			  strcmp(a.error, b.error) == 0,
		      "split parse fails differently");
		check(a.error_status >= 400 && a.error_status <= 599, "error status out of range");
	} else if (ra == HS_HTTP_DONE) {
		check(used_a == used_b, "split parse ends elsewhere");
		same(&a, &b);
		/* b's pointers point into the buffer of its last call. */
		check(b.host == last + b.host_span.off && b.path == last + b.path_span.off &&
			  b.method == last + b.method_span.off,
		      "pointers not set from the last buffer");
		check(used_a == a.head_len && used_a <= n && used_a <= HS_HTTP_HEAD_MAX,
		      "head length out of bounds");
		check(a.nheaders <= HS_HTTP_HEADERS_MAX, "too many headers");
		check(span_ok(a.host_span, used_a) && span_ok(a.path_span, used_a) &&
			  span_ok(a.method_span, used_a) && span_ok(a.authority_span, used_a),
		      "span outside the head");
		for (size_t i = 0; i < a.nheaders; i++)
			check(span_ok(a.headers[i].name, used_a) &&
				  span_ok(a.headers[i].value, used_a) && a.headers[i].name.len > 0,
			      "header span outside the head");
		check(a.host_len > 0 && a.port > 0, "no host or port");
		check(a.is_connect == (a.form == HS_HTTP_FORM_AUTHORITY),
		      "CONNECT without authority form");
		check(a.version == 10 || a.version == 11, "version");
		for (size_t i = 0; i < a.host_len; i++)
			check(a.host[i] != ' ' && a.host[i] != '\r' && a.host[i] != '\n' &&
				  a.host[i] != '\0' && a.host[i] != '/' && a.host[i] != '@',
			      "a delimiter in the host");
		if (!a.is_connect)
			check_forward(&a, in);
	}
	free(first);
	free(second);
	check_error_response(data, size);
	return 0;
}
