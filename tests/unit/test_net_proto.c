/*
 * test_net_proto.c: the egress proxy's wire protocols: HTTP/1.x request
 * heads (net/http1.h), the SOCKS5 handshake (net/socks5.h), the server
 * name of a TLS ClientHello (net/sni.h), DNS queries and responses
 * (net/dnsmsg.h).
 *
 * Every parser is also fed one byte at a time (HTTP from a buffer that
 * moves at each call, as an evbuffer's may) and must reach the same result
 * as when the input arrives at once. Real-world inputs were captured from
 * the tools themselves: curl 7.88 and git 2.39 CONNECT, Python 3.11 urllib
 * GET through a proxy, curl's SOCKS5 greeting, the TLS 1.3 ClientHellos of
 * `openssl s_client -servername example.com` (OpenSSL 3.0) and of curl.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/dnsmsg.h"
#include "net/http1.h"
#include "net/sni.h"
#include "net/socks5.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ---- captured samples ---- */

static const char curl_connect[] = "CONNECT api.anthropic.com:443 HTTP/1.1\r\n"
				   "Host: api.anthropic.com:443\r\n"
				   "User-Agent: curl/7.88.1\r\n"
				   "Proxy-Connection: Keep-Alive\r\n\r\n";
static const char git_connect[] = "CONNECT github.com:443 HTTP/1.1\r\n"
				  "Host: github.com:443\r\n"
				  "User-Agent: git/2.39.5\r\n"
				  "Proxy-Connection: Keep-Alive\r\n\r\n";
static const char python_get[] = "GET http://example.com/index.html?q=1 HTTP/1.1\r\n"
				 "Accept-Encoding: identity\r\n"
				 "Host: example.com\r\n"
				 "User-Agent: Python-urllib/3.11\r\n"
				 "Connection: close\r\n\r\n";
static const uint8_t curl_socks_greeting[] = {0x05, 0x02, 0x00, 0x01};

static const uint8_t tls13_openssl_hello[] = {
    0x16, 0x03, 0x01, 0x00, 0xf0, 0x01, 0x00, 0x00, 0xec, 0x03, 0x03, 0x1b, 0xfb, 0xeb, 0x14, 0x28,
    0x97, 0x9c, 0x71, 0x00, 0x7d, 0x82, 0x76, 0x87, 0x6b, 0xbb, 0x4d, 0x99, 0x26, 0x84, 0xec, 0xc8,
    0x37, 0xf0, 0xab, 0x1c, 0xfd, 0x54, 0xcf, 0x61, 0x77, 0x85, 0x46, 0x20, 0x8b, 0xa1, 0x78, 0x32,
    0xe6, 0x0f, 0xe8, 0x90, 0x32, 0xf8, 0x57, 0xb5, 0x5c, 0x4e, 0x90, 0xbd, 0x5a, 0xeb, 0xd6, 0x55,
    0xef, 0xcb, 0xb8, 0x1d, 0xff, 0x34, 0x8e, 0x1d, 0x02, 0xf2, 0xef, 0x45, 0x00, 0x08, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0x9b, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0e,
    0x00, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b,
    0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x1d, 0x00, 0x17,
    0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04,
    0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x1e,
    0x00, 0x1c, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a,
    0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x00, 0x2b,
    0x00, 0x03, 0x02, 0x03, 0x04, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00,
    0x24, 0x00, 0x1d, 0x00, 0x20, 0x34, 0x1e, 0x2a, 0x9e, 0x27, 0x1d, 0xbb, 0x8e, 0x9c, 0x3c, 0x74,
    0xff, 0xfa, 0x26, 0x00, 0xc1, 0x28, 0x2e, 0x31, 0x02, 0x8f, 0x9c, 0x58, 0x3d, 0xb6, 0x12, 0x28,
    0xfc, 0x96, 0x5f, 0x23, 0x79,
};
static const uint8_t tls13_curl_hello[] = {
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x6d, 0xfe, 0x48, 0x4b, 0xd0,
    0xdf, 0xb3, 0x0e, 0x8d, 0x0c, 0xb0, 0x29, 0xd0, 0xc2, 0x53, 0xdb, 0xcf, 0x5e, 0x75, 0x2f, 0xf4,
    0xbb, 0xe4, 0xff, 0xb2, 0xfc, 0x45, 0x5a, 0x57, 0x25, 0x9a, 0x6e, 0x20, 0x51, 0xf0, 0x9b, 0xec,
    0xd0, 0x75, 0x28, 0x2d, 0xed, 0xb1, 0xd3, 0x3a, 0xbb, 0x6d, 0xa5, 0x9b, 0xeb, 0x68, 0x0e, 0x61,
    0x9e, 0xce, 0x75, 0x88, 0x67, 0x0b, 0xa9, 0x2b, 0x9a, 0x57, 0x52, 0xc9, 0x00, 0x3e, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
    0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27,
    0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d,
    0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x01, 0x75,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
    0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16,
    0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01,
    0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32, 0x08,
    0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00,
    0x00, 0x31, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03,
    0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06,
    0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02,
    0x06, 0x02, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00,
    0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0xc6,
    0xc1, 0xa9, 0x6a, 0x4f, 0x3d, 0x51, 0x86, 0x6e, 0x60, 0x32, 0xfe, 0x75, 0x04, 0x58, 0x3c, 0xa2,
    0xce, 0x8a, 0x0c, 0x19, 0xc0, 0x27, 0x1f, 0xdb, 0x57, 0xaf, 0x68, 0xdd, 0x81, 0xcc, 0x2a, 0x00,
    0x15, 0x00, 0xb2, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00,
};

/* ---- HTTP ---- */

static char span_text[HS_HTTP_HEAD_MAX + 1];

static const char *str(const char *buf, struct hs_http_span s)
{
	memcpy(span_text, buf + s.off, s.len);
	span_text[s.len] = '\0';
	return span_text;
}

static void same_request(const struct hs_http_request *a, const struct hs_http_request *b)
{
	assert_int_equal(a->form, b->form);
	assert_int_equal(a->port, b->port);
	assert_int_equal(a->port_explicit, b->port_explicit);
	assert_int_equal(a->is_connect, b->is_connect);
	assert_int_equal(a->host_is_ip6, b->host_is_ip6);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->body, b->body);
	assert_int_equal(a->content_length, b->content_length);
	assert_int_equal(a->head_len, b->head_len);
	assert_int_equal(a->nheaders, b->nheaders);
	assert_memory_equal(&a->host_span, &b->host_span, sizeof(a->host_span));
	assert_memory_equal(&a->path_span, &b->path_span, sizeof(a->path_span));
	assert_memory_equal(&a->method_span, &b->method_span, sizeof(a->method_span));
	assert_memory_equal(&a->authority_span, &b->authority_span, sizeof(a->authority_span));
	if (a->nheaders)
		assert_memory_equal(a->headers, b->headers, a->nheaders * sizeof(a->headers[0]));
}

/*
 * Parses in[0..len) at once into *rq; then again one byte at a time, each
 * call given a fresh copy of the bytes so far (the buffer moves), which
 * must end the same way at the same byte.
 */
static int http_parse(const char *in, size_t len, struct hs_http_request *rq, size_t *used)
{
	struct hs_http_request inc;
	size_t used_inc = 0;
	int r, ri = HS_HTTP_NEED_MORE;
	hs_http_request_init(rq);
	r = hs_http_parse_request(in, len, rq, used);
	hs_http_request_init(&inc);
	for (size_t k = 1; k <= len && ri == HS_HTTP_NEED_MORE; k++) {
		char *moved = malloc(k);
		assert_non_null(moved);
		memcpy(moved, in, k);
		ri = hs_http_parse_request(moved, k, &inc, &used_inc);
		if (ri == HS_HTTP_DONE) {
			assert_int_equal(k, used_inc);
			assert_ptr_equal(inc.host, moved + inc.host_span.off);
		}
		free(moved);
	}
	assert_int_equal(ri, r);
	if (r == HS_HTTP_DONE) {
		assert_int_equal(used_inc, *used);
		same_request(rq, &inc);
	} else if (r == HS_HTTP_ERROR) {
		assert_int_equal(inc.error_code, rq->error_code);
		assert_int_equal(inc.error_status, rq->error_status);
		assert_string_equal(inc.error, rq->error);
	}
	return r;
}

static void http_ok(const char *in, struct hs_http_request *rq)
{
	size_t used;
	int r = http_parse(in, strlen(in), rq, &used);
	if (r != HS_HTTP_DONE)
		print_error("not parsed (%d: %s): %s\n", r, rq->error ? rq->error : "", in);
	assert_int_equal(r, HS_HTTP_DONE);
	assert_int_equal(used, strlen(in));
}

static void http_refused_n(const char *in, size_t len, enum hs_http_error_code code, int status)
{
	struct hs_http_request rq;
	size_t used;
	int r = http_parse(in, len, &rq, &used);
	if (r != HS_HTTP_ERROR || rq.error_code != code)
		print_error("expected error %d, got %d/%d (%s) for: %.*s\n", code, r, rq.error_code,
			    rq.error ? rq.error : "", (int)len, in);
	assert_int_equal(r, HS_HTTP_ERROR);
	assert_int_equal(rq.error_code, code);
	assert_int_equal(rq.error_status, status);
	assert_non_null(rq.error);
	assert_int_equal(used, 0);
}

static void http_refused(const char *in, enum hs_http_error_code code, int status)
{
	http_refused_n(in, strlen(in), code, status);
}

/* The reason names what was wrong (it goes into the 400 and the record). */
static void http_refused_why(const char *in, size_t len, enum hs_http_error_code code,
			     const char *why)
{
	struct hs_http_request rq;
	size_t used;
	http_refused_n(in, len, code, 400);
	http_parse(in, len, &rq, &used);
	if (!strstr(rq.error, why))
		print_error("reason \"%s\" does not say \"%s\"\n", rq.error, why);
	assert_non_null(strstr(rq.error, why));
}
#define REFUSED_WHY(lit, code, why) http_refused_why(lit, sizeof(lit) - 1, code, why)

static void test_http_curl_connect(void **state)
{
	(void)state;
	struct hs_http_request rq;
	http_ok(curl_connect, &rq);
	assert_true(rq.is_connect);
	assert_int_equal(rq.form, HS_HTTP_FORM_AUTHORITY);
	assert_int_equal(rq.host_len, strlen("api.anthropic.com"));
	assert_memory_equal(rq.host, "api.anthropic.com", rq.host_len);
	assert_int_equal(rq.port, 443);
	assert_true(rq.port_explicit);
	assert_int_equal(rq.version, 11);
	assert_int_equal(rq.body, HS_HTTP_BODY_NONE);
	assert_int_equal(rq.nheaders, 3);
	assert_string_equal(str(curl_connect, rq.headers[2].name), "Proxy-Connection");
	assert_string_equal(str(curl_connect, rq.headers[2].value), "Keep-Alive");
	assert_string_equal(
	    str(curl_connect, hs_http_find_header(&rq, curl_connect, "user-agent")->value),
	    "curl/7.88.1");
	assert_null(hs_http_find_header(&rq, curl_connect, "cookie"));
	/* A tunnel has nothing to forward. */
	char out[512];
	assert_int_equal(hs_http_forward_head(&rq, curl_connect, out, sizeof(out)), -1);
}

static void test_http_git_connect_then_tls(void **state)
{
	(void)state;
	/* The ClientHello that follows the head is not part of it. */
	char in[sizeof(git_connect) + 5];
	struct hs_http_request rq;
	size_t used;
	memcpy(in, git_connect, sizeof(git_connect) - 1);
	memcpy(in + sizeof(git_connect) - 1, "\x16\x03\x01\x02\x00", 5);
	assert_int_equal(http_parse(in, sizeof(in) - 1, &rq, &used), HS_HTTP_DONE);
	assert_int_equal(used, strlen(git_connect));
	assert_memory_equal(rq.host, "github.com", rq.host_len);
	assert_int_equal(rq.port, 443);
	/* Called again, it answers the same, from the buffer given. */
	assert_int_equal(hs_http_parse_request(in, sizeof(in) - 1, &rq, &used), HS_HTTP_DONE);
	assert_int_equal(used, strlen(git_connect));
	/* ... but not from a buffer shorter than the head. */
	assert_int_equal(hs_http_parse_request(in, 10, &rq, &used), HS_HTTP_ERROR);
	assert_int_equal(rq.error_code, HS_HTTP_E_USAGE);
}

static void test_http_python_absolute_get(void **state)
{
	(void)state;
	struct hs_http_request rq;
	char out[512];
	static const char want[] = "GET /index.html?q=1 HTTP/1.1\r\n"
				   "Host: example.com\r\n"
				   "Accept-Encoding: identity\r\n"
				   "User-Agent: Python-urllib/3.11\r\n"
				   "Connection: close\r\n\r\n";
	http_ok(python_get, &rq);
	assert_false(rq.is_connect);
	assert_int_equal(rq.form, HS_HTTP_FORM_ABSOLUTE);
	assert_memory_equal(rq.host, "example.com", rq.host_len);
	assert_int_equal(rq.host_len, 11);
	assert_int_equal(rq.port, 80);
	assert_false(rq.port_explicit);
	assert_int_equal(rq.path_len, strlen("/index.html?q=1"));
	assert_memory_equal(rq.path, "/index.html?q=1", rq.path_len);
	assert_memory_equal(rq.method, "GET", 3);
	ssize_t n = hs_http_forward_head(&rq, python_get, out, sizeof(out));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, (size_t)n);
	/* Exactly enough room, then one byte less. */
	assert_int_equal(hs_http_forward_head(&rq, python_get, out, (size_t)n), n);
	assert_int_equal(hs_http_forward_head(&rq, python_get, out, (size_t)n - 1), -1);
}

static void test_http_targets(void **state)
{
	(void)state;
	struct hs_http_request rq;
	http_ok("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n", &rq);
	assert_true(rq.host_is_ip6);
	assert_int_equal(rq.host_len, strlen("2001:db8::1"));
	assert_memory_equal(rq.host, "2001:db8::1", rq.host_len);
	assert_int_equal(rq.port, 443);
	http_ok("CONNECT 192.0.2.7:65535 HTTP/1.0\r\n\r\n", &rq);
	assert_int_equal(rq.port, 65535);
	assert_int_equal(rq.version, 10);
	http_ok("CONNECT h:1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &rq);
	assert_int_equal(rq.port, 1);
	assert_int_equal(rq.body, HS_HTTP_BODY_NONE);
	http_ok("GET http://[::1]:8080/x HTTP/1.1\r\n\r\n", &rq);
	assert_true(rq.host_is_ip6);
	assert_memory_equal(rq.host, "::1", 3);
	assert_int_equal(rq.port, 8080);
	http_ok("GET HTTP://Example.COM?a=b HTTP/1.1\r\n\r\n", &rq);
	assert_memory_equal(rq.host, "Example.COM", rq.host_len);
	assert_int_equal(rq.path_len, 4);
	/* Origin form: the host comes from Host. */
	http_ok("GET /p HTTP/1.1\r\nHost: example.org:8000\r\n\r\n", &rq);
	assert_int_equal(rq.form, HS_HTTP_FORM_ORIGIN);
	assert_memory_equal(rq.host, "example.org", rq.host_len);
	assert_int_equal(rq.port, 8000);
	assert_memory_equal(rq.path, "/p", rq.path_len);
	/* The host's bytes are not judged here (the rules module does). */
	http_ok("CONNECT xn--e1afmkfd.%41\x80:443 HTTP/1.1\r\n\r\n", &rq);
	assert_int_equal(rq.host_len, strlen("xn--e1afmkfd.%41\x80"));
}

static void test_http_bodies(void **state)
{
	(void)state;
	struct hs_http_request rq;
	http_ok("POST http://h/ HTTP/1.1\r\nContent-Length: 42\r\n\r\n", &rq);
	assert_int_equal(rq.body, HS_HTTP_BODY_LENGTH);
	assert_int_equal(rq.content_length, 42);
	http_ok("POST http://h/ HTTP/1.1\r\nContent-Length: 7, 7\r\ncontent-length: 7\r\n\r\n",
		&rq);
	assert_int_equal(rq.content_length, 7);
	http_ok("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
		"Chunked\r\n\r\n",
		&rq);
	assert_int_equal(rq.body, HS_HTTP_BODY_CHUNKED);
	http_ok("GET http://h/ HTTP/1.1\r\n\r\n", &rq);
	assert_int_equal(rq.body, HS_HTTP_BODY_NONE);
}

static void test_http_smuggling_refused(void **state)
{
	(void)state;
	/* Line structure and bytes. */
	http_refused("GET http://h/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n", HS_HTTP_E_OBS_FOLD, 400);
	http_refused("GET http://h/ HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", HS_HTTP_E_OBS_FOLD, 400);
	http_refused("GET http://h/ HTTP/1.1\r\nX: a\rY: b\r\n\r\n", HS_HTTP_E_BAD_BYTE, 400);
	http_refused("GET http://h/ HTTP/1.1\nX: a\r\n\r\n", HS_HTTP_E_BAD_BYTE, 400);
	http_refused("GET http://h/ HTTP/1.1\r\nX: a\n\r\n", HS_HTTP_E_BAD_BYTE, 400);
	REFUSED_WHY("GET http://h/ HTTP/1.1\r\nX: a\0b\r\n\r\n", HS_HTTP_E_BAD_BYTE, "NUL");
	http_refused("GET http://h/ HTTP/1.1\r\nX: a\x01\r\n\r\n", HS_HTTP_E_BAD_BYTE, 400);
	http_refused("GET http://h/ HTTP/1.1\r\nX: a\x7f\r\n\r\n", HS_HTTP_E_BAD_BYTE, 400);
	http_refused("\r\nGET http://h/ HTTP/1.1\r\n\r\n", HS_HTTP_E_REQUEST_LINE, 400);
	/* Header names. */
	REFUSED_WHY("GET http://h/ HTTP/1.1\r\nHost : h\r\n\r\n", HS_HTTP_E_HEADER, "whitespace");
	REFUSED_WHY("GET http://h/ HTTP/1.1\r\nHost\t: h\r\n\r\n", HS_HTTP_E_HEADER, "whitespace");
	http_refused("GET http://h/ HTTP/1.1\r\nX(y): h\r\n\r\n", HS_HTTP_E_HEADER, 400);
	http_refused("GET http://h/ HTTP/1.1\r\n: h\r\n\r\n", HS_HTTP_E_HEADER, 400);
	http_refused("GET http://h/ HTTP/1.1\r\nNoColon\r\n\r\n", HS_HTTP_E_HEADER, 400);
	/* Methods and the request line. */
	http_refused("G(T http://h/ HTTP/1.1\r\n\r\n", HS_HTTP_E_METHOD, 400);
	http_refused("G\x80T http://h/ HTTP/1.1\r\n\r\n", HS_HTTP_E_METHOD, 400);
	http_refused("GET  http://h/ HTTP/1.1\r\n\r\n", HS_HTTP_E_REQUEST_LINE, 400);
	http_refused("GET http://h/ HTTP/1.1 \r\n\r\n", HS_HTTP_E_REQUEST_LINE, 400);
	http_refused("GET\thttp://h/ HTTP/1.1\r\n\r\n", HS_HTTP_E_METHOD, 400);
	http_refused("GET http://h/\tx HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	http_refused("GET http://h/#frag HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	/* Versions. */
	http_refused("GET http://h/ HTTP/2.0\r\n\r\n", HS_HTTP_E_VERSION, 505);
	http_refused("GET http://h/ HTTP/1.2\r\n\r\n", HS_HTTP_E_VERSION, 505);
	http_refused("GET http://h/ HTTP/0.9\r\n\r\n", HS_HTTP_E_VERSION, 505);
	http_refused("GET http://h/ HTTP/1.10\r\n\r\n", HS_HTTP_E_REQUEST_LINE, 400);
	http_refused("GET http://h/ http/1.1\r\n\r\n", HS_HTTP_E_REQUEST_LINE, 400);
	/* Host. */
	http_refused("GET http://h/ HTTP/1.1\r\nHost: h\r\nhost: h\r\n\r\n", HS_HTTP_E_HOST, 400);
	http_refused("CONNECT h:443 HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n", HS_HTTP_E_HOST, 400);
	http_refused("GET / HTTP/1.1\r\n\r\n", HS_HTTP_E_HOST, 400);
	http_refused("GET / HTTP/1.0\r\nUser-Agent: x\r\n\r\n", HS_HTTP_E_HOST, 400);
	http_refused("GET / HTTP/1.1\r\nHost: \r\n\r\n", HS_HTTP_E_HOST, 400);
	http_refused("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", HS_HTTP_E_HOST, 400);
	http_refused("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HS_HTTP_E_HOST, 400);
	http_refused("GET / HTTP/1.1\r\nHost: a\tb:80\r\n\r\n", HS_HTTP_E_HOST, 400);
	/* Body framing. */
	http_refused(
	    "POST http://h/ HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	    HS_HTTP_E_FRAMING, 400);
	http_refused(
	    "POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
	    HS_HTTP_E_FRAMING, 400);
	http_refused("POST http://h/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		     HS_HTTP_E_FRAMING, 400);
	http_refused("POST http://h/ HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", HS_HTTP_E_FRAMING,
		     400);
	http_refused("POST http://h/ HTTP/1.1\r\nContent-Length: +5\r\n\r\n", HS_HTTP_E_FRAMING,
		     400);
	http_refused("POST http://h/ HTTP/1.1\r\nContent-Length: 1a\r\n\r\n", HS_HTTP_E_FRAMING,
		     400);
	http_refused("POST http://h/ HTTP/1.1\r\nContent-Length: \r\n\r\n", HS_HTTP_E_FRAMING, 400);
	http_refused("POST http://h/ HTTP/1.1\r\nContent-Length: 5,,5\r\n\r\n", HS_HTTP_E_FRAMING,
		     400);
	http_refused("POST http://h/ HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		     HS_HTTP_E_FRAMING, 400);
	http_refused("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		     HS_HTTP_E_FRAMING, 400);
	http_refused("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		     HS_HTTP_E_FRAMING, 400);
	http_refused("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n",
		     HS_HTTP_E_FRAMING, 400);
	http_refused("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
		     "chunked\r\n\r\n",
		     HS_HTTP_E_FRAMING, 400);
	http_refused("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
		     HS_HTTP_E_CODING, 501);
	http_refused("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked;x=1\r\n\r\n",
		     HS_HTTP_E_FRAMING, 400);
	http_refused("POST http://h/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		     HS_HTTP_E_FRAMING, 400);
	http_refused("CONNECT h:443 HTTP/1.1\r\nContent-Length: 3\r\n\r\n", HS_HTTP_E_FRAMING, 400);
	http_refused("CONNECT h:443 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		     HS_HTTP_E_FRAMING, 400);
	/* Dropping a framing header as hop-by-hop would desynchronise the relay. */
	http_refused("POST http://h/ HTTP/1.1\r\nConnection: close, "
		     "Content-Length\r\nContent-Length: 3\r\n\r\n",
		     HS_HTTP_E_FRAMING, 400);
	http_refused("POST http://h/ HTTP/1.1\r\nConnection: x y\r\n\r\n", HS_HTTP_E_HEADER, 400);
}

static void test_http_targets_refused(void **state)
{
	(void)state;
	REFUSED_WHY("GET https://h/ HTTP/1.1\r\n\r\n", HS_HTTP_E_SCHEME, "CONNECT");
	REFUSED_WHY("GET HTTPS://h/ HTTP/1.1\r\n\r\n", HS_HTTP_E_SCHEME, "CONNECT");
	http_refused("GET ftp://h/ HTTP/1.1\r\n\r\n", HS_HTTP_E_SCHEME, 400);
	http_refused("GET http://user:pw@h/ HTTP/1.1\r\n\r\n", HS_HTTP_E_USERINFO, 400);
	http_refused("CONNECT user@h:443 HTTP/1.1\r\n\r\n", HS_HTTP_E_USERINFO, 400);
	http_refused("CONNECT h HTTP/1.1\r\n\r\n", HS_HTTP_E_PORT, 400);
	http_refused("CONNECT h: HTTP/1.1\r\n\r\n", HS_HTTP_E_PORT, 400);
	http_refused("CONNECT h:0 HTTP/1.1\r\n\r\n", HS_HTTP_E_PORT, 400);
	http_refused("CONNECT h:65536 HTTP/1.1\r\n\r\n", HS_HTTP_E_PORT, 400);
	http_refused("CONNECT h:+443 HTTP/1.1\r\n\r\n", HS_HTTP_E_PORT, 400);
	http_refused("CONNECT h:443:1 HTTP/1.1\r\n\r\n", HS_HTTP_E_PORT, 400);
	http_refused("CONNECT h:000443 HTTP/1.1\r\n\r\n", HS_HTTP_E_PORT, 400);
	http_refused("CONNECT :443 HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	http_refused("CONNECT h/x:443 HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	http_refused("CONNECT [::1:443 HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	http_refused("CONNECT [fe80::1%25eth0]:443 HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	http_refused("CONNECT [1.2.3.4]:443 HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	http_refused("CONNECT [::1]x:443 HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	http_refused("CONNECT http://h:443/ HTTP/1.1\r\n\r\n", HS_HTTP_E_PORT, 400);
	http_refused("connect h:443 HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	http_refused("GET h:80 HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	REFUSED_WHY("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", HS_HTTP_E_TARGET, "asterisk");
	http_refused("GET http:/h/ HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	http_refused("GET http:///x HTTP/1.1\r\n\r\n", HS_HTTP_E_TARGET, 400);
	/* The wrong protocol on the HTTP port, told apart from garbage. */
	struct hs_http_request rq;
	size_t used;
	assert_int_equal(http_parse("\x16\x03\x01\x02\x00", 5, &rq, &used), HS_HTTP_ERROR);
	assert_non_null(strstr(rq.error, "TLS"));
	assert_int_equal(http_parse("\x05\x01\x00", 3, &rq, &used), HS_HTTP_ERROR);
	assert_non_null(strstr(rq.error, "SOCKS"));
	/* Garbage is refused at its first byte, not after a line or a timeout. */
	hs_http_request_init(&rq);
	assert_int_equal(hs_http_parse_request("GE(", 3, &rq, &used), HS_HTTP_ERROR);
	assert_int_equal(rq.error_code, HS_HTTP_E_METHOD);
}

/* "GET / HTTP/1.1\r\nHost: h\r\n", filler header lines "X: aaa...\r\n" and
 * the blank line: a head of exactly `total` bytes. */
static char *head_of(size_t total)
{
	static const char start[] = "GET / HTTP/1.1\r\nHost: h\r\n";
	char *s = malloc(total + 1);
	size_t n = strlen(start), rem = total - n - 2;
	assert_non_null(s);
	memcpy(s, start, n);
	while (rem > 0) {
		size_t line = rem > 8000 ? 8000 : rem; /* CRLF included */
		if (rem - line > 0 && rem - line < 5)
			line -= 5;
		assert_true(line >= 5);
		memcpy(s + n, "X: ", 3);
		memset(s + n + 3, 'a', line - 5);
		memcpy(s + n + line - 2, "\r\n", 2);
		n += line;
		rem -= line;
	}
	memcpy(s + n, "\r\n", 2);
	s[total] = '\0';
	return s;
}

static void test_http_limits(void **state)
{
	(void)state;
	struct hs_http_request rq;
	size_t used;
	static char s[3 * HS_HTTP_HEAD_MAX];

	/* 100 headers, then 101. */
	size_t n = (size_t)sprintf(s, "GET http://h/ HTTP/1.1\r\n");
	for (int i = 0; i < HS_HTTP_HEADERS_MAX; i++)
		n += (size_t)sprintf(s + n, "X-%d: %d\r\n", i, i);
	strcpy(s + n, "\r\n");
	http_ok(s, &rq);
	assert_int_equal(rq.nheaders, HS_HTTP_HEADERS_MAX);
	strcpy(s + n, "X-last: 1\r\n\r\n");
	http_refused(s, HS_HTTP_E_TOO_MANY_HEADERS, 431);

	/* A header line of 8 KiB exactly (CRLF not counted), then one byte more. */
	n = (size_t)sprintf(s, "GET http://h/ HTTP/1.1\r\nX: ");
	memset(s + n, 'v', HS_HTTP_LINE_MAX - 3);
	strcpy(s + n + HS_HTTP_LINE_MAX - 3, "\r\n\r\n");
	http_ok(s, &rq);
	memset(s + n, 'v', HS_HTTP_LINE_MAX - 2);
	strcpy(s + n + HS_HTTP_LINE_MAX - 2, "\r\n\r\n");
	http_refused(s, HS_HTTP_E_HEADER_TOO_LONG, 431);

	/* A request line of 8 KiB exactly, then one byte more: 414. */
	n = (size_t)sprintf(s, "GET http://h/");
	memset(s + n, 'p', HS_HTTP_LINE_MAX - n - 9);
	strcpy(s + HS_HTTP_LINE_MAX - 9, " HTTP/1.1\r\n\r\n");
	http_ok(s, &rq);
	assert_int_equal(rq.path_len, HS_HTTP_LINE_MAX - 9 - 12);
	memset(s + n, 'p', HS_HTTP_LINE_MAX - n - 8);
	strcpy(s + HS_HTTP_LINE_MAX - 8, " HTTP/1.1\r\n\r\n");
	http_refused(s, HS_HTTP_E_URI_TOO_LONG, 414);

	/* A head of 16 KiB exactly; one byte more is refused, even while
	 * incomplete; 16 KiB without its end is still incomplete. */
	char *h = head_of(HS_HTTP_HEAD_MAX);
	assert_int_equal(strlen(h), HS_HTTP_HEAD_MAX);
	http_ok(h, &rq);
	free(h);
	h = head_of(HS_HTTP_HEAD_MAX + 1);
	http_refused(h, HS_HTTP_E_HEAD_TOO_LARGE, 431);
	hs_http_request_init(&rq);
	assert_int_equal(hs_http_parse_request(h, HS_HTTP_HEAD_MAX, &rq, &used), HS_HTTP_NEED_MORE);
	assert_int_equal(hs_http_parse_request(h, HS_HTTP_HEAD_MAX + 1, &rq, &used), HS_HTTP_ERROR);
	assert_int_equal(rq.error_code, HS_HTTP_E_HEAD_TOO_LARGE);
	free(h);
}

static void test_http_forward_hop_by_hop(void **state)
{
	(void)state;
	static const char in[] = "POST http://example.com:8080 HTTP/1.0\r\n"
				 "Host: other.example\r\n"
				 "Connection: keep-alive, X-Secret\r\n"
				 "X-Secret: 1\r\n"
				 "Proxy-Connection: keep-alive\r\n"
				 "Keep-Alive: 300\r\n"
				 "Proxy-Authorization: Basic eDp5\r\n"
				 "TE: trailers\r\n"
				 "Upgrade: websocket\r\n"
				 "Trailer: X-Sum\r\n"
				 "Content-Length:   3   \r\n"
				 "x-keep: yes\r\n"
				 "\r\n"
				 "abc";
	/* The Host a server sees is the one the request was routed (and
	 * checked) by, not the client's second opinion. */
	static const char want[] = "POST / HTTP/1.1\r\n"
				   "Host: example.com:8080\r\n"
				   "Trailer: X-Sum\r\n"
				   "Content-Length: 3\r\n"
				   "x-keep: yes\r\n"
				   "Connection: close\r\n\r\n";
	struct hs_http_request rq;
	size_t used;
	char out[1024];
	assert_int_equal(http_parse(in, strlen(in), &rq, &used), HS_HTTP_DONE);
	assert_int_equal(used, strlen(in) - 3);
	assert_true(rq.upgrade);
	ssize_t n = hs_http_forward_head(&rq, in, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, want);
	assert_true((size_t)n <= rq.head_len + HS_HTTP_FORWARD_EXTRA);
	/* The bound holds for headers sent without a space after the colon. */
	char tight[HS_HTTP_HEAD_MAX];
	size_t k = (size_t)sprintf(tight, "GET http://h HTTP/1.1\r\n");
	for (int i = 0; i < HS_HTTP_HEADERS_MAX; i++)
		k += (size_t)sprintf(tight + k, "X%d:v\r\n", i);
	k += (size_t)sprintf(tight + k, "\r\n");
	assert_int_equal(http_parse(tight, k, &rq, &used), HS_HTTP_DONE);
	assert_int_equal(hs_http_forward_head(&rq, tight, out, k + 32), -1);
	char *big = malloc(k + HS_HTTP_FORWARD_EXTRA);
	assert_non_null(big);
	n = hs_http_forward_head(&rq, tight, big, k + HS_HTTP_FORWARD_EXTRA);
	assert_true(n > (ssize_t)k + 32);
	free(big);

	/* A query without a path gets one; origin form keeps its Host. */
	static const char q[] = "GET http://h?x=1 HTTP/1.1\r\n\r\n";
	assert_int_equal(http_parse(q, strlen(q), &rq, &used), HS_HTTP_DONE);
	n = hs_http_forward_head(&rq, q, out, sizeof(out));
	out[n] = '\0';
	assert_string_equal(out, "GET /?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
	static const char o[] = "GET /a HTTP/1.1\r\nhost: [::1]:81\r\nConnection: Upgrade\r\n\r\n";
	assert_int_equal(http_parse(o, strlen(o), &rq, &used), HS_HTTP_DONE);
	n = hs_http_forward_head(&rq, o, out, sizeof(out));
	out[n] = '\0';
	assert_string_equal(out, "GET /a HTTP/1.1\r\nHost: [::1]:81\r\nConnection: close\r\n\r\n");
	/* Not DONE: nothing to forward. */
	hs_http_request_init(&rq);
	assert_int_equal(hs_http_parse_request(q, 10, &rq, &used), HS_HTTP_NEED_MORE);
	assert_int_equal(hs_http_forward_head(&rq, q, out, sizeof(out)), -1);
}

/* The body that a response announces matches the one it carries. */
static void check_response(const char *r, size_t n)
{
	const char *end = strstr(r, "\r\n\r\n");
	const char *cl = strstr(r, "Content-Length: ");
	assert_non_null(end);
	assert_non_null(cl);
	assert_int_equal(strtoul(cl + 16, NULL, 10), n - (size_t)(end + 4 - r));
	assert_int_equal(strlen(r), n);
}

static void test_http_error_response(void **state)
{
	(void)state;
	char buf[1024];
	size_t n = hs_http_error_response(buf, sizeof(buf), 403, NULL, "X-Harness-Refused",
					  "evil.example\r\nSet-Cookie: a=b\x1b[0m\xc3\xa9",
					  "refused: evil.example\n\x1b[31m\n");
	static const char want[] = "HTTP/1.1 403 Forbidden\r\n"
				   "Content-Type: text/plain; charset=utf-8\r\n"
				   "Content-Length: 28\r\n"
				   "Connection: close\r\n"
				   "X-Harness-Refused: evil.example??Set-Cookie: a=b?[0m??\r\n"
				   "\r\n"
				   "refused: evil.example\n?[31m\n";
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	check_response(buf, n);

	/* A bad header name: no header at all. A reason is cleaned too. */
	n = hs_http_error_response(buf, sizeof(buf), 400, "Bad\r\nX: y", "X Bad", "v", "b");
	assert_null(strstr(buf, "X Bad"));
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad??X: y\r\n"));
	check_response(buf, n);
	n = hs_http_error_response(buf, sizeof(buf), 431, NULL, NULL, NULL, NULL);
	assert_non_null(strstr(buf, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
	assert_non_null(strstr(buf, "Content-Length: 0\r\n"));
	check_response(buf, n);
	n = hs_http_error_response(buf, sizeof(buf), 1000, NULL, NULL, NULL, "x");
	assert_non_null(strstr(buf, "HTTP/1.1 500 Internal Server Error\r\n"));

	/* A long body is cut to what fits, its length with it. */
	char body[2000];
	memset(body, 'b', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	n = hs_http_error_response(buf, 300, 403, NULL, "X-Harness-Refused", "h", body);
	assert_true(n > 290 && n < 300);
	check_response(buf, n);
	/* No room for the head: nothing. */
	assert_int_equal(hs_http_error_response(buf, 40, 403, NULL, NULL, NULL, "x"), 0);
}

/* ---- SOCKS5 ---- */

struct socks_run {
	int r;
	struct hs_socks5 s;
	uint8_t reply[64];
	size_t reply_len, used;
};

/* The caller's loop as proxy.c runs it: the bytes not yet consumed are
 * kept; they arrive `step` bytes at a time (0: all at once). */
static void socks_run(const uint8_t *in, size_t len, size_t step, struct socks_run *out)
{
	uint8_t pend[1024];
	size_t np = 0, fed = 0;
	memset(out, 0, sizeof(*out));
	hs_socks5_init(&out->s);
	out->r = HS_SOCKS5_NEED_MORE;
	while (fed < len) {
		size_t take = step && step < len - fed ? step : len - fed;
		memcpy(pend + np, in + fed, take);
		np += take;
		fed += take;
		for (;;) {
			uint8_t rep[16];
			size_t used, rl;
			out->r = hs_socks5_feed(&out->s, pend, np, &used, rep, sizeof(rep), &rl);
			assert_true(used <= np);
			assert_true(rl <= sizeof(rep));
			memcpy(out->reply + out->reply_len, rep, rl);
			out->reply_len += rl;
			memmove(pend, pend + used, np - used);
			np -= used;
			out->used += used;
			if (out->r != HS_SOCKS5_NEED_MORE)
				return;
			if (used == 0)
				break;
		}
	}
}

/* Runs in at once and one byte at a time; both must agree. */
static int socks_both(const uint8_t *in, size_t len, struct socks_run *out)
{
	struct socks_run inc;
	socks_run(in, len, 0, out);
	socks_run(in, len, 1, &inc);
	assert_int_equal(inc.r, out->r);
	assert_int_equal(inc.used, out->used);
	assert_int_equal(inc.reply_len, out->reply_len);
	if (out->reply_len)
		assert_memory_equal(inc.reply, out->reply, out->reply_len);
	assert_int_equal(inc.s.state, out->s.state);
	assert_int_equal(inc.s.failed, out->s.failed);
	assert_int_equal(inc.s.port, out->s.port);
	assert_int_equal(inc.s.host_len, out->s.host_len);
	assert_memory_equal(inc.s.host, out->s.host, sizeof(out->s.host));
	assert_int_equal(inc.s.error_reply, out->s.error_reply);
	assert_true(inc.s.error == out->s.error);
	return out->r;
}

/* curl's greeting, then a CONNECT to a name (what curl sends next). */
static size_t socks_connect_name(uint8_t *b, const char *name, size_t nlen, uint16_t port)
{
	size_t n = 0;
	memcpy(b, curl_socks_greeting, sizeof(curl_socks_greeting));
	n = sizeof(curl_socks_greeting);
	b[n++] = 5;
	b[n++] = HS_SOCKS5_CMD_CONNECT;
	b[n++] = 0;
	b[n++] = HS_SOCKS5_ATYP_DOMAIN;
	b[n++] = (uint8_t)nlen;
	memcpy(b + n, name, nlen);
	n += nlen;
	b[n++] = (uint8_t)(port >> 8);
	b[n++] = (uint8_t)port;
	return n;
}

static void test_socks5_curl(void **state)
{
	(void)state;
	uint8_t in[600];
	struct socks_run run;
	/* The greeting alone: "no authentication" chosen, waiting. */
	assert_int_equal(socks_both(curl_socks_greeting, 4, &run), HS_SOCKS5_NEED_MORE);
	assert_int_equal(run.used, 4);
	assert_int_equal(run.reply_len, 2);
	assert_memory_equal(run.reply, "\x05\x00", 2);
	assert_int_equal(run.s.state, HS_SOCKS5_REQUEST);
	/* Then the request; the client's first bytes after it are not consumed. */
	size_t n = socks_connect_name(in, "example.com", 11, 443);
	memcpy(in + n, "\x16\x03\x01", 3);
	assert_int_equal(socks_both(in, n + 3, &run), HS_SOCKS5_DONE);
	assert_int_equal(run.used, n);
	assert_int_equal(run.s.state, HS_SOCKS5_READY);
	assert_int_equal(run.s.atyp, HS_SOCKS5_ATYP_DOMAIN);
	assert_string_equal(run.s.host, "example.com");
	assert_int_equal(run.s.host_len, 11);
	assert_int_equal(run.s.port, 443);
	assert_memory_equal(run.reply, "\x05\x00", 2);
	assert_int_equal(run.reply_len, 2);
	/* Fed again: DONE, nothing consumed. */
	size_t used, rl;
	uint8_t rep[16];
	assert_int_equal(hs_socks5_feed(&run.s, in + n, 3, &used, rep, sizeof(rep), &rl),
			 HS_SOCKS5_DONE);
	assert_int_equal(used, 0);
	assert_int_equal(rl, 0);
}

static void test_socks5_addresses(void **state)
{
	(void)state;
	struct socks_run run;
	static const uint8_t v4[] = {5, 1, 0, 5, 1, 0, 1, 192, 0, 2, 7, 0x1f, 0x90};
	assert_int_equal(socks_both(v4, sizeof(v4), &run), HS_SOCKS5_DONE);
	assert_int_equal(run.s.atyp, HS_SOCKS5_ATYP_IPV4);
	assert_string_equal(run.s.host, "192.0.2.7");
	assert_memory_equal(run.s.addr, "\xc0\x00\x02\x07", 4);
	assert_int_equal(run.s.port, 8080);
	/* clang-format off */
	static const uint8_t v6[] = {5, 1, 0, 5, 1, 0, 4, /* greeting; request for 2001:db8::1 */
				     0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				     0, 0, 0, 0, 0, 0, 0, 1, 0, 80};
	/* clang-format on */
	assert_int_equal(socks_both(v6, sizeof(v6), &run), HS_SOCKS5_DONE);
	assert_int_equal(run.s.atyp, HS_SOCKS5_ATYP_IPV6);
	assert_string_equal(run.s.host, "2001:db8::1");
	assert_int_equal(run.s.port, 80);

	/* A name's bytes are passed on raw, NUL and dots included, 255 at most. */
	uint8_t in[600];
	size_t n = socks_connect_name(in, "a\0b.c", 5, 1);
	assert_int_equal(socks_both(in, n, &run), HS_SOCKS5_DONE);
	assert_int_equal(run.s.host_len, 5);
	assert_memory_equal(run.s.host, "a\0b.c", 5);
	char name[255];
	memset(name, 'n', sizeof(name));
	n = socks_connect_name(in, name, 255, 65535);
	assert_int_equal(socks_both(in, n, &run), HS_SOCKS5_DONE);
	assert_int_equal(run.s.host_len, 255);
	assert_int_equal(run.s.host[255], '\0');
	assert_int_equal(run.s.port, 65535);
	n = socks_connect_name(in, "", 0, 443);
	assert_int_equal(socks_both(in, n, &run), HS_SOCKS5_ERROR);
	assert_int_equal(run.s.error_reply, HS_SOCKS5_REP_GENERAL_FAILURE);
}

static void test_socks5_refused(void **state)
{
	(void)state;
	struct socks_run run;
	/* Authentication only (GSSAPI, user/password): 05 FF. */
	static const uint8_t auth[] = {5, 2, 1, 2};
	assert_int_equal(socks_both(auth, sizeof(auth), &run), HS_SOCKS5_ERROR);
	assert_int_equal(run.reply_len, 2);
	assert_memory_equal(run.reply, "\x05\xff", 2);
	assert_int_equal(run.s.state, HS_SOCKS5_GREETING);
	static const uint8_t none[] = {5, 0};
	assert_int_equal(socks_both(none, sizeof(none), &run), HS_SOCKS5_ERROR);
	assert_memory_equal(run.reply, "\x05\xff", 2);
	/* SOCKS4(a): its own "rejected" reply, and a clear reason. */
	static const uint8_t s4[] = {4, 1, 0, 80, 0, 0, 0, 1, 'u', 0, 'h', 0};
	assert_int_equal(socks_both(s4, sizeof(s4), &run), HS_SOCKS5_ERROR);
	assert_int_equal(run.reply_len, 8);
	assert_memory_equal(run.reply, "\x00\x5b\0\0\0\0\0\0", 8);
	assert_non_null(strstr(run.s.error, "SOCKS4"));
	/* HTTP on the SOCKS port; anything else. */
	assert_int_equal(socks_both((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &run),
			 HS_SOCKS5_ERROR);
	assert_non_null(strstr(run.s.error, "HTTP"));
	assert_int_equal(run.reply_len, 0);
	assert_int_equal(socks_both((const uint8_t *)"\x16\x03\x01", 3, &run), HS_SOCKS5_ERROR);
	assert_int_equal(run.reply_len, 0);

	/* BIND and UDP ASSOCIATE: 07, with the target filled in for the record. */
	static const uint8_t bind[] = {5, 1, 0, 5, 2, 0, 1, 10, 0, 0, 1, 0, 21};
	assert_int_equal(socks_both(bind, sizeof(bind), &run), HS_SOCKS5_ERROR);
	assert_int_equal(run.s.error_reply, HS_SOCKS5_REP_CMD_UNSUPPORTED);
	assert_int_equal(run.s.state, HS_SOCKS5_REQUEST);
	assert_string_equal(run.s.host, "10.0.0.1");
	assert_int_equal(run.s.port, 21);
	static const uint8_t udp[] = {5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0};
	assert_int_equal(socks_both(udp, sizeof(udp), &run), HS_SOCKS5_ERROR);
	assert_int_equal(run.s.error_reply, HS_SOCKS5_REP_CMD_UNSUPPORTED);
	assert_non_null(strstr(run.s.error, "UDP"));
	/* Unknown address type: 08, at once. */
	static const uint8_t atyp[] = {5, 1, 0, 5, 1, 0, 2};
	assert_int_equal(socks_both(atyp, sizeof(atyp), &run), HS_SOCKS5_ERROR);
	assert_int_equal(run.s.error_reply, HS_SOCKS5_REP_ATYP_UNSUPPORTED);
	assert_int_equal(run.s.state, HS_SOCKS5_REQUEST);
	/* A request of another version, or RSV not 0. */
	static const uint8_t ver[] = {5, 1, 0, 4, 1, 0, 1};
	assert_int_equal(socks_both(ver, sizeof(ver), &run), HS_SOCKS5_ERROR);
	assert_int_equal(run.s.error_reply, HS_SOCKS5_REP_GENERAL_FAILURE);
	static const uint8_t rsv[] = {5, 1, 0, 5, 1, 1, 1};
	assert_int_equal(socks_both(rsv, sizeof(rsv), &run), HS_SOCKS5_ERROR);
	/* Once failed, always failed. */
	size_t used, rl;
	uint8_t rep[16];
	static const uint8_t fine[] = {5, 1, 0, 1, 192, 0, 2, 7, 0, 80};
	assert_int_equal(hs_socks5_feed(&run.s, fine, sizeof(fine), &used, rep, sizeof(rep), &rl),
			 HS_SOCKS5_ERROR);
	assert_int_equal(used, 0);
}

static void test_socks5_reply(void **state)
{
	(void)state;
	uint8_t b[32];
	assert_int_equal(hs_socks5_reply(b, sizeof(b), HS_SOCKS5_REP_NOT_ALLOWED, NULL), 10);
	assert_memory_equal(b, "\x05\x02\x00\x01\0\0\0\0\0\0", 10);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(1080)};
	in.sin_addr.s_addr = htonl(0x7f000001);
	assert_int_equal(
	    hs_socks5_reply(b, sizeof(b), HS_SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&in), 10);
	assert_memory_equal(b, "\x05\x00\x00\x01\x7f\0\0\x01\x04\x38", 10);
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	in6.sin6_addr.s6_addr[15] = 1;
	assert_int_equal(
	    hs_socks5_reply(b, sizeof(b), HS_SOCKS5_REP_HOST_UNREACHABLE, (struct sockaddr *)&in6),
	    22);
	assert_memory_equal(b, "\x05\x04\x00\x04\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x01\xbb", 22);
	assert_int_equal(hs_socks5_reply(b, 21, 0, (struct sockaddr *)&in6), 0);
	assert_int_equal(hs_socks5_reply(b, 9, 0, NULL), 0);
	/* The codes are RFC 1928's. */
	assert_int_equal(HS_SOCKS5_REP_GENERAL_FAILURE, 1);
	assert_int_equal(HS_SOCKS5_REP_NOT_ALLOWED, 2);
	assert_int_equal(HS_SOCKS5_REP_HOST_UNREACHABLE, 4);
	assert_int_equal(HS_SOCKS5_REP_CONN_REFUSED, 5);
	assert_int_equal(HS_SOCKS5_REP_CMD_UNSUPPORTED, 7);
	assert_int_equal(HS_SOCKS5_REP_ATYP_UNSUPPORTED, 8);
}

/* ---- TLS ClientHello ---- */

/* Parses in at once; every shorter prefix must give NEED_MORE or the same
 * answer (a parser decides from the bytes it has, never changes its mind). */
static int sni_both(const uint8_t *in, size_t len, struct hs_sni *out)
{
	int r = hs_sni_parse(in, len, out);
	for (size_t k = 0; k < len; k++) {
		struct hs_sni p;
		uint8_t *copy = malloc(k + 1);
		assert_non_null(copy);
		memcpy(copy, in, k);
		int rk = hs_sni_parse(copy, k, &p);
		free(copy);
		if (rk == HS_SNI_NEED_MORE)
			continue;
		assert_int_equal(rk, r);
		if (r == HS_SNI_ERROR) {
			assert_string_equal(p.error, out->error);
		} else {
			assert_int_equal(p.name_len, out->name_len);
			assert_memory_equal(p.name, out->name, sizeof(p.name));
			assert_int_equal(p.hello_bytes, out->hello_bytes);
			assert_int_equal(p.ech, out->ech);
		}
	}
	return r;
}

static void test_sni_real_hellos(void **state)
{
	(void)state;
	struct hs_sni s;
	assert_int_equal(sni_both(tls13_openssl_hello, sizeof(tls13_openssl_hello), &s),
			 HS_SNI_FOUND);
	assert_string_equal(s.name, "example.com");
	assert_int_equal(s.name_len, 11);
	assert_int_equal(s.legacy_version, 0x0303);
	assert_int_equal(s.hello_bytes, sizeof(tls13_openssl_hello));
	assert_false(s.ech);
	assert_int_equal(sni_both(tls13_curl_hello, sizeof(tls13_curl_hello), &s), HS_SNI_FOUND);
	assert_string_equal(s.name, "example.com");
	assert_int_equal(s.hello_bytes, sizeof(tls13_curl_hello));
	/* A record after the ClientHello (the compatibility CCS) is not ours. */
	uint8_t more[sizeof(tls13_openssl_hello) + 6];
	memcpy(more, tls13_openssl_hello, sizeof(tls13_openssl_hello));
	memcpy(more + sizeof(tls13_openssl_hello), "\x14\x03\x03\x00\x01\x01", 6);
	assert_int_equal(sni_both(more, sizeof(more), &s), HS_SNI_FOUND);
	assert_int_equal(s.hello_bytes, sizeof(tls13_openssl_hello));
}

/* Re-frames a single-record hello into records of `size` bytes. */
static size_t reframe(const uint8_t *in, size_t len, size_t size, uint8_t *out)
{
	size_t n = 0;
	for (size_t off = 5; off < len; off += size) {
		size_t k = len - off < size ? len - off : size;
		out[n++] = 22;
		out[n++] = 3;
		out[n++] = 1;
		out[n++] = (uint8_t)(k >> 8);
		out[n++] = (uint8_t)k;
		memcpy(out + n, in + off, k);
		n += k;
	}
	return n;
}

static void test_sni_across_records(void **state)
{
	(void)state;
	static uint8_t b[8192];
	struct hs_sni s;
	/* curl's 512-byte hello in 16 records of 32 bytes, then in 32 of 16. */
	size_t n = reframe(tls13_curl_hello, sizeof(tls13_curl_hello), 32, b);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_FOUND);
	assert_string_equal(s.name, "example.com");
	assert_int_equal(s.hello_bytes, n);
	n = reframe(tls13_curl_hello, sizeof(tls13_curl_hello), 16, b);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_FOUND);
	/* 33 records: refused rather than followed further. */
	n = reframe(tls13_curl_hello, sizeof(tls13_curl_hello), 15, b);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_ERROR);
	assert_non_null(strstr(s.error, "32 records"));
	/* The 4-byte handshake header itself split: 1-byte records. */
	n = reframe(tls13_openssl_hello, 5 + 40, 1, b);
	assert_int_equal(hs_sni_parse(b, n, &s), HS_SNI_ERROR); /* > 32 records */
	/* Another record type in the middle. */
	n = reframe(tls13_curl_hello, sizeof(tls13_curl_hello), 256, b);
	b[5 + 256] = 23;
	assert_int_equal(sni_both(b, n, &s), HS_SNI_ERROR);
	assert_non_null(strstr(s.error, "another type"));
}

/* A ClientHello of ours: sid of 32, one suite, extensions given. Returns
 * the bytes, one record. Offsets in it: */
#define O_HS_LEN 6 /* handshake length (3 bytes) */
#define O_SID_LEN 43
#define O_SUITES_LEN 76
#define O_EXTS_LEN 82
#define O_EXT0 84 /* first extension's type */
struct ext {
	uint16_t type;
	const uint8_t *data;
	size_t len;
};

static size_t hello_sid = 32, hello_suites = 2, hello_comp = 1; /* consistent whatever they are */

static size_t hello(uint8_t *b, const struct ext *e, size_t ne, bool with_exts)
{
	size_t n = 9, body;
	b[n++] = 3;
	b[n++] = 3;
	memset(b + n, 0xaa, 32);
	n += 32;
	b[n++] = (uint8_t)hello_sid;
	memset(b + n, 0xbb, hello_sid);
	n += hello_sid;
	b[n++] = 0;
	b[n++] = (uint8_t)hello_suites;
	memset(b + n, 0x13, hello_suites);
	n += hello_suites;
	b[n++] = (uint8_t)hello_comp;
	memset(b + n, 0, hello_comp);
	n += hello_comp;
	if (with_exts) {
		size_t start = n;
		n += 2;
		for (size_t i = 0; i < ne; i++) {
			b[n++] = (uint8_t)(e[i].type >> 8);
			b[n++] = (uint8_t)e[i].type;
			b[n++] = (uint8_t)(e[i].len >> 8);
			b[n++] = (uint8_t)e[i].len;
			memcpy(b + n, e[i].data, e[i].len);
			n += e[i].len;
		}
		b[start] = (uint8_t)((n - start - 2) >> 8);
		b[start + 1] = (uint8_t)(n - start - 2);
	}
	body = n - 9;
	b[0] = 22;
	b[1] = 3;
	b[2] = 1;
	b[3] = (uint8_t)((n - 5) >> 8);
	b[4] = (uint8_t)(n - 5);
	b[5] = 1;
	b[6] = (uint8_t)(body >> 16);
	b[7] = (uint8_t)(body >> 8);
	b[8] = (uint8_t)body;
	return n;
}

/* server_name data for one host_name. */
static size_t sni_data(uint8_t *d, const char *name, size_t nlen)
{
	d[0] = (uint8_t)((nlen + 3) >> 8);
	d[1] = (uint8_t)(nlen + 3);
	d[2] = 0;
	d[3] = (uint8_t)(nlen >> 8);
	d[4] = (uint8_t)nlen;
	memcpy(d + 5, name, nlen);
	return nlen + 5;
}

static void test_sni_absent_ech(void **state)
{
	(void)state;
	static uint8_t b[40000], d[600];
	struct hs_sni s;
	static const uint8_t alpn[] = {0, 3, 2, 'h', '2'};
	struct ext e[3] = {{16, alpn, sizeof(alpn)}};
	size_t n = hello(b, e, 1, true);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_NONE);
	assert_int_equal(s.name_len, 0);
	n = hello(b, NULL, 0, false);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_NONE);
	n = hello(b, NULL, 0, true);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_NONE);

	/* ECH: the name seen is the outer one, and that is said. */
	e[0] = (struct ext){0, d, sni_data(d, "public.example", 14)};
	e[1] = (struct ext){0xfe0d, alpn, sizeof(alpn)};
	n = hello(b, e, 2, true);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_FOUND);
	assert_true(s.ech);
	assert_false(s.esni);
	assert_string_equal(s.name, "public.example");
	e[1].type = 0xffce;
	n = hello(b, e, 2, true);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_FOUND);
	assert_true(s.esni);
	assert_false(s.ech);

	/* The name's bytes are not judged; 255 of them at most. */
	e[0] = (struct ext){0, d, sni_data(d, "a\0b", 3)};
	n = hello(b, e, 1, true);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_FOUND);
	assert_int_equal(s.name_len, 3);
	assert_memory_equal(s.name, "a\0b", 3);
	char name[256];
	memset(name, 'x', sizeof(name));
	e[0] = (struct ext){0, d, sni_data(d, name, 255)};
	n = hello(b, e, 1, true);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_FOUND);
	assert_int_equal(s.name_len, 255);
	e[0] = (struct ext){0, d, sni_data(d, name, 256)};
	n = hello(b, e, 1, true);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_ERROR);

	/* A ClientHello of 16 KiB exactly (two records), then one byte more. */
	static uint8_t pad[16384], one[40000];
	e[0] = (struct ext){0, d, sni_data(d, "big.example", 11)};
	e[1] = (struct ext){21, pad, 16384 - 73 - 2 - 20 - 4}; /* padding */
	n = hello(one, e, 2, true);
	assert_int_equal(n - 9, HS_SNI_HELLO_MAX);
	n = reframe(one, n, 16384, b);
	assert_int_equal(sni_both(b, n, &s), HS_SNI_FOUND);
	assert_string_equal(s.name, "big.example");
	e[1].len++;
	n = hello(one, e, 2, true);
	n = reframe(one, n, 16384, b);
	assert_int_equal(hs_sni_parse(b, n, &s), HS_SNI_ERROR);
	assert_non_null(strstr(s.error, "16 KiB"));
	assert_int_equal(hs_sni_parse(b, 9, &s), HS_SNI_ERROR); /* known from the header */
}

static void expect_sni(const uint8_t *b, size_t n, int want)
{
	struct hs_sni s;
	int r = hs_sni_parse(b, n, &s);
	if (r != want)
		print_error("got %d (%s), wanted %d\n", r, s.error ? s.error : "", want);
	assert_int_equal(r, want);
}

static void test_sni_malformed(void **state)
{
	(void)state;
	static uint8_t good[1024], b[1024], d[300];
	struct ext e[2];
	e[0] = (struct ext){0, d, sni_data(d, "example.com", 11)};
	size_t n = hello(good, e, 1, true);
	expect_sni(good, n, HS_SNI_FOUND);

	/* Each length one too long and one too short: never a name. */
	static const size_t u16_fields[] = {O_SUITES_LEN, O_EXTS_LEN, O_EXT0 + 2,
					    O_EXT0 + 4,	  O_EXT0 + 7, 3};
	for (size_t i = 0; i < sizeof(u16_fields) / sizeof(u16_fields[0]); i++) {
		for (int delta = -1; delta <= 1; delta += 2) {
			memcpy(b, good, n);
			unsigned v = (unsigned)b[u16_fields[i]] << 8 | b[u16_fields[i] + 1];
			v = (unsigned)((int)v + delta);
			b[u16_fields[i]] = (uint8_t)(v >> 8);
			b[u16_fields[i] + 1] = (uint8_t)v;
			struct hs_sni s;
			int r = hs_sni_parse(b, n, &s);
			if (r != HS_SNI_ERROR && r != HS_SNI_NEED_MORE)
				print_error("field at %zu %+d: %d\n", u16_fields[i], delta, r);
			assert_true(r == HS_SNI_ERROR || r == HS_SNI_NEED_MORE);
		}
	}
	memcpy(b, good, n);
	b[O_HS_LEN + 2]--; /* the handshake shorter than its record */
	expect_sni(b, n, HS_SNI_ERROR);
	memcpy(b, good, n);
	b[O_HS_LEN + 2]++; /* longer: the rest would be in a next record */
	expect_sni(b, n, HS_SNI_NEED_MORE);
	memcpy(b, good, n);
	b[O_SID_LEN] = 33;
	expect_sni(b, n, HS_SNI_ERROR);
	memcpy(b, good, n);
	b[5] = 2; /* a ServerHello */
	expect_sni(b, n, HS_SNI_ERROR);
	memcpy(b, good, n);
	b[9] = 2; /* legacy_version 2.3 */
	expect_sni(b, n, HS_SNI_ERROR);
	memcpy(b, good, n);
	b[O_EXT0 + 6] = 1; /* name_type 1 */
	expect_sni(b, n, HS_SNI_ERROR);

	/* Twice the same extension; two host_names; an empty one; an empty list. */
	e[1] = e[0];
	size_t m = hello(b, e, 2, true);
	expect_sni(b, m, HS_SNI_ERROR);
	uint8_t two[40];
	size_t k = sni_data(two, "a", 1);
	memcpy(two + k,
	       "\x00\x00\x01"
	       "b",
	       4);
	two[1] = (uint8_t)(two[1] + 4);
	e[0] = (struct ext){0, two, k + 4};
	m = hello(b, e, 1, true);
	expect_sni(b, m, HS_SNI_ERROR);
	e[0] = (struct ext){0, d, sni_data(d, "", 0)};
	m = hello(b, e, 1, true);
	expect_sni(b, m, HS_SNI_ERROR);
	e[0] = (struct ext){0, (const uint8_t *)"\0\0", 2};
	m = hello(b, e, 1, true);
	expect_sni(b, m, HS_SNI_ERROR);
	/* A byte after the server name list, inside its extension. */
	k = sni_data(two, "a", 1);
	two[k] = 0;
	e[0] = (struct ext){0, two, k + 1};
	m = hello(b, e, 1, true);
	expect_sni(b, m, HS_SNI_ERROR);
	/* A byte after the extension block, inside the ClientHello. */
	e[0] = (struct ext){0, d, sni_data(d, "example.com", 11)};
	m = hello(b, e, 1, true);
	b[m] = 0;
	b[4]++;
	b[O_HS_LEN + 2]++;
	expect_sni(b, m + 1, HS_SNI_ERROR);
	b[4]--;
	b[O_HS_LEN + 2]--;
	expect_sni(b, m, HS_SNI_FOUND);
	/* A session id of 33 bytes; cipher suites of an odd length or none. */
	hello_sid = 33;
	m = hello(b, e, 1, true);
	expect_sni(b, m, HS_SNI_ERROR);
	hello_sid = 32;
	hello_suites = 3;
	m = hello(b, e, 1, true);
	expect_sni(b, m, HS_SNI_ERROR);
	hello_suites = 0;
	m = hello(b, e, 1, true);
	expect_sni(b, m, HS_SNI_ERROR);
	hello_suites = 4;
	m = hello(b, e, 1, true);
	expect_sni(b, m, HS_SNI_FOUND);
	hello_suites = 2;
	hello_comp = 0;
	m = hello(b, e, 1, true);
	expect_sni(b, m, HS_SNI_ERROR);
	hello_comp = 1;

	/* Records: not TLS, wrong version, empty, too long. */
	struct hs_sni s;
	assert_int_equal(hs_sni_parse((const uint8_t *)"GET / HTTP/1.1", 14, &s), HS_SNI_ERROR);
	assert_true(s.not_tls);
	assert_int_equal(hs_sni_parse((const uint8_t *)"\x05\x01\x00", 3, &s), HS_SNI_ERROR);
	assert_true(s.not_tls);
	assert_int_equal(hs_sni_parse((const uint8_t *)"\x16\x02", 2, &s), HS_SNI_ERROR);
	assert_true(s.not_tls);
	assert_int_equal(hs_sni_parse((const uint8_t *)"\x16\x03\x01\x00\x00", 5, &s),
			 HS_SNI_ERROR);
	assert_false(s.not_tls);
	assert_int_equal(hs_sni_parse((const uint8_t *)"\x16\x03\x01\x40\x01", 5, &s),
			 HS_SNI_ERROR);
	assert_int_equal(hs_sni_parse((const uint8_t *)"\x16\x03\x01\x40\x00", 5, &s),
			 HS_SNI_NEED_MORE);
	assert_int_equal(hs_sni_parse(NULL, 0, &s), HS_SNI_NEED_MORE);
	/* Bytes after the ClientHello inside its record. */
	memcpy(b, good, n);
	b[4]++;
	b[n] = 0;
	expect_sni(b, n + 1, HS_SNI_ERROR);
}

/* ---- DNS ---- */

/* dig 9.18's query for example.com A: RD and AD set, EDNS with a cookie. */
/* clang-format off */
static const uint8_t dig_query[] = {
	0xbe, 0xef, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* header */
	0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,     /* QNAME */
	0x00, 0x01, 0x00, 0x01,                                                 /* A IN */
	0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c,       /* OPT */
	0x00, 0x0a, 0x00, 0x08, 0x5d, 0x4a, 0x0b, 0x39, 0x2c, 0x5e, 0x21, 0x7a, /* cookie */
};
/* clang-format on */

/* A query: header, then QNAME from raw labels (each given with its
 * length byte, e.g. "\3www\7example\3com"), QTYPE, QCLASS. */
static size_t dns_query(uint8_t *b, uint16_t flags, uint16_t qd, const char *labels,
			size_t labels_len, uint16_t qtype, uint16_t qclass)
{
	size_t n = 0;
	static const uint8_t id[2] = {0x12, 0x34};
	memcpy(b, id, 2);
	b[2] = (uint8_t)(flags >> 8);
	b[3] = (uint8_t)flags;
	memset(b + 4, 0, 8);
	b[5] = (uint8_t)qd;
	n = 12;
	memcpy(b + n, labels, labels_len);
	n += labels_len;
	b[n++] = 0;
	b[n++] = (uint8_t)(qtype >> 8);
	b[n++] = (uint8_t)qtype;
	b[n++] = (uint8_t)(qclass >> 8);
	b[n++] = (uint8_t)qclass;
	return n;
}

static void expect_dns_error(const uint8_t *b, size_t n, enum hs_dns_rcode rcode, bool respond)
{
	struct hs_dns_query q;
	assert_int_equal(hs_dns_parse_query(b, n, &q), -1);
	if (q.rcode != rcode)
		print_error("rcode %d (%s), wanted %d\n", q.rcode, q.error, rcode);
	assert_int_equal(q.rcode, rcode);
	assert_int_equal(q.respond, respond);
	assert_non_null(q.error);
}

static void expect_dns_why(const uint8_t *b, size_t n, const char *why)
{
	struct hs_dns_query q;
	expect_dns_error(b, n, HS_DNS_FORMERR, true);
	hs_dns_parse_query(b, n, &q);
	if (!strstr(q.error, why))
		print_error("reason \"%s\" does not say \"%s\"\n", q.error, why);
	assert_non_null(strstr(q.error, why));
}

static void test_dns_dig_query(void **state)
{
	(void)state;
	struct hs_dns_query q;
	assert_int_equal(hs_dns_parse_query(dig_query, sizeof(dig_query), &q), 0);
	assert_true(q.respond);
	assert_int_equal(q.id, 0xbeef);
	assert_string_equal(q.name, "example.com");
	assert_int_equal(q.name_len, 11);
	assert_int_equal(q.nlabels, 2);
	assert_int_equal(q.qtype, HS_DNS_TYPE_A);
	assert_int_equal(q.qclass, HS_DNS_CLASS_IN);
	assert_int_equal(q.question_len, 17);

	/* Two addresses over UDP: every byte. */
	static const uint8_t a[2][4] = {{192, 0, 2, 1}, {192, 0, 2, 2}};
	uint8_t out[600];
	size_t n = hs_dns_answer_a(out, sizeof(out), &q, a, 2, 300, HS_DNS_UDP);
	/* clang-format off */
	static const uint8_t want[] = {
		0xbe, 0xef, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
		0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
		0x00, 0x01, 0x00, 0x01,
		0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 192, 0, 2, 1,
		0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 192, 0, 2, 2,
	};
	/* clang-format on */
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));

	/* The same over TCP: the length first. */
	n = hs_dns_answer_a(out, sizeof(out), &q, a, 2, 300, HS_DNS_TCP);
	assert_int_equal(n, sizeof(want) + 2);
	assert_int_equal(out[0] << 8 | out[1], sizeof(want));
	assert_memory_equal(out + 2, want, sizeof(want));
}

static void test_dns_answers(void **state)
{
	(void)state;
	uint8_t b[600], out[70000];
	struct hs_dns_query q;
	/* The name's case is echoed as asked (0x20 randomisation). */
	size_t n =
	    dns_query(b, 0x0100, 1, "\3wWw\7ExAmple\3COM", 16, HS_DNS_TYPE_AAAA, HS_DNS_CLASS_IN);
	assert_int_equal(hs_dns_parse_query(b, n, &q), 0);
	assert_string_equal(q.name, "wWw.ExAmple.COM");
	assert_int_equal(q.nlabels, 3);
	static const uint8_t v6[1][16] = {{0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
	size_t r = hs_dns_answer_aaaa(out, sizeof(out), &q, v6, 1, 60, HS_DNS_UDP);
	assert_int_equal(r, n + 12 + 16);
	assert_memory_equal(out + 12, b + 12, n - 12);
	assert_int_equal(out[7], 1); /* ANCOUNT */
	assert_memory_equal(out + n, "\xc0\x0c\x00\x1c\x00\x01\x00\x00\x00\x3c\x00\x10", 12);
	assert_memory_equal(out + n + 12, v6[0], 16);

	/* No records: the rcode, RD echoed, QR and RA set. */
	static const struct {
		enum hs_dns_rcode rcode;
		uint8_t flags_lo;
	} codes[] = {{HS_DNS_NXDOMAIN, 0x83},
		     {HS_DNS_REFUSED, 0x85},
		     {HS_DNS_SERVFAIL, 0x82},
		     {HS_DNS_NOERROR, 0x80}};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		r = hs_dns_answer_rcode(out, sizeof(out), &q, codes[i].rcode, HS_DNS_UDP);
		assert_int_equal(r, n);
		assert_int_equal(out[2], 0x81);
		assert_int_equal(out[3], codes[i].flags_lo);
		assert_memory_equal(out + 4, "\x00\x01\x00\x00\x00\x00\x00\x00", 8);
		assert_memory_equal(out + 12, b + 12, n - 12);
	}

	/* 64 addresses: over UDP what fits in 512 bytes, with TC; over TCP all. */
	uint8_t many[HS_DNS_ANSWERS_MAX][4];
	for (int i = 0; i < HS_DNS_ANSWERS_MAX; i++)
		memcpy(many[i], (uint8_t[4]){10, 0, 0, (uint8_t)i}, 4);
	n = dns_query(b, 0x0100, 1, "\1a", 2, HS_DNS_TYPE_A, HS_DNS_CLASS_IN);
	assert_int_equal(hs_dns_parse_query(b, n, &q), 0);
	r = hs_dns_answer_a(out, sizeof(out), &q, many, HS_DNS_ANSWERS_MAX, 1, HS_DNS_UDP);
	size_t fit = (HS_DNS_UDP_MAX - n) / 16;
	assert_int_equal(r, n + fit * 16);
	assert_true(r <= HS_DNS_UDP_MAX);
	assert_int_equal(out[2] & 0x02, 0x02); /* TC */
	assert_int_equal(out[7], fit);
	r = hs_dns_answer_a(out, sizeof(out), &q, many, HS_DNS_ANSWERS_MAX, 1, HS_DNS_TCP);
	assert_int_equal(r, 2 + n + HS_DNS_ANSWERS_MAX * 16);
	assert_int_equal(out[4] & 0x02, 0);
	assert_int_equal(out[9], HS_DNS_ANSWERS_MAX);
	/* A buffer too small for the question: nothing. */
	assert_int_equal(hs_dns_answer_rcode(out, n - 1, &q, HS_DNS_NOERROR, HS_DNS_UDP), 0);
	assert_int_equal(hs_dns_answer_rcode(out, n, &q, HS_DNS_NOERROR, HS_DNS_UDP), n);

	/* The root. */
	n = dns_query(b, 0, 1, "", 0, 2, HS_DNS_CLASS_IN);
	assert_int_equal(hs_dns_parse_query(b, n, &q), 0);
	assert_string_equal(q.name, "");
	assert_int_equal(q.nlabels, 0);
}

static void test_dns_refused(void **state)
{
	(void)state;
	uint8_t b[600], out[600];
	struct hs_dns_query q;
	size_t n;
	/* Pointers, labels that hold a dot or a NUL, label types. */
	n = dns_query(b, 0, 1, "\3www\xc0\x0c", 6, 1, 1);
	expect_dns_why(b, n, "pointer");
	n = dns_query(b, 0, 1, "\xc0\x0c", 2, 1, 1);
	expect_dns_why(b, n, "pointer");
	char l64[65];
	l64[0] = 64; /* 0x40: not a length (at most 63) but a label type */
	memset(l64 + 1, 'x', 64);
	n = dns_query(b, 0, 1, l64, 65, 1, 1);
	expect_dns_why(b, n, "label");
	l64[0] = (char)0x80;
	n = dns_query(b, 0, 1, l64, 65, 1, 1);
	expect_dns_why(b, n, "label");
	n = dns_query(b, 0, 1, "\3a.b\3com", 8, 1, 1);
	expect_dns_error(b, n, HS_DNS_FORMERR, true);
	n = dns_query(b, 0, 1, "\3a\0b\3com", 8, 1, 1);
	expect_dns_error(b, n, HS_DNS_FORMERR, true);
	n = dns_query(b, 0, 1,
		      "\x41"
		      "a",
		      2, 1, 1);
	expect_dns_error(b, n, HS_DNS_FORMERR, true);
	/* Counts. */
	n = dns_query(b, 0, 0, "\1a", 2, 1, 1);
	expect_dns_error(b, n, HS_DNS_FORMERR, true);
	n = dns_query(b, 0, 2, "\1a", 2, 1, 1);
	expect_dns_error(b, n, HS_DNS_FORMERR, true);
	n = dns_query(b, 0, 1, "\1a", 2, 1, 1);
	b[7] = 1; /* ANCOUNT */
	expect_dns_error(b, n, HS_DNS_FORMERR, true);
	memcpy(b, dig_query, sizeof(dig_query));
	b[11] = 2; /* ARCOUNT */
	expect_dns_error(b, sizeof(dig_query), HS_DNS_FORMERR, true);
	memcpy(b, dig_query, sizeof(dig_query));
	b[31] = 0x30; /* the additional record is not OPT */
	expect_dns_error(b, sizeof(dig_query), HS_DNS_FORMERR, true);
	expect_dns_error(dig_query, sizeof(dig_query) - 1, HS_DNS_FORMERR, true);
	/* Trailing bytes, truncation. */
	n = dns_query(b, 0, 1, "\1a", 2, 1, 1);
	b[n] = 0;
	expect_dns_error(b, n + 1, HS_DNS_FORMERR, true);
	expect_dns_error(b, n - 1, HS_DNS_FORMERR, true);
	expect_dns_error(b, 13, HS_DNS_FORMERR, true);
	/* Opcodes, classes, responses, runts. */
	n = dns_query(b, 0x2800, 1, "\1a", 2, 1, 1); /* UPDATE */
	expect_dns_error(b, n, HS_DNS_NOTIMP, true);
	n = dns_query(b, 0, 1, "\7version\4bind", 13, 16, 3); /* CH */
	expect_dns_error(b, n, HS_DNS_REFUSED, true);
	assert_int_equal(hs_dns_parse_query(b, n, &q), -1);
	assert_true(q.has_question);
	n = dns_query(b, 0x8180, 1, "\1a", 2, 1, 1);
	expect_dns_error(b, n, HS_DNS_FORMERR, false);
	expect_dns_error(b, 11, HS_DNS_FORMERR, false);
	/* ... and the answer to a refused query without a question. */
	n = dns_query(b, 0x0100, 2, "\1a", 2, 1, 1);
	assert_int_equal(hs_dns_parse_query(b, n, &q), -1);
	assert_int_equal(hs_dns_answer_rcode(out, sizeof(out), &q, q.rcode, HS_DNS_UDP), 12);
	assert_memory_equal(out, "\x12\x34\x81\x81\0\0\0\0\0\0\0\0", 12);
	n = dns_query(b, 0x8000, 1, "\1a", 2, 1, 1);
	assert_int_equal(hs_dns_parse_query(b, n, &q), -1);
	assert_int_equal(hs_dns_answer_rcode(out, sizeof(out), &q, q.rcode, HS_DNS_UDP), 0);
}

/* Names of 253 bytes (dotted) and 63-byte labels; then one more. */
static void test_dns_name_limits(void **state)
{
	(void)state;
	uint8_t b[600];
	char labels[300];
	struct hs_dns_query q;
	size_t k = 0;
	/* 3 x 63-byte labels + a 61-byte one: 4 + 63*3 + 61 + 1 = 255 on the wire. */
	for (int i = 0; i < 4; i++) {
		size_t l = i < 3 ? 63 : 61;
		labels[k++] = (char)l;
		memset(labels + k, 'a' + i, l);
		k += l;
	}
	size_t n = dns_query(b, 0, 1, labels, k, 1, 1);
	assert_int_equal(hs_dns_parse_query(b, n, &q), 0);
	assert_int_equal(q.name_len, HS_DNS_NAME_MAX);
	assert_int_equal(strlen(q.name), HS_DNS_NAME_MAX);
	assert_int_equal(q.name[63], '.');
	labels[k - 62] = 62; /* the last label one byte longer: 256 */
	labels[k] = 'd';
	n = dns_query(b, 0, 1, labels, k + 1, 1, 1);
	expect_dns_error(b, n, HS_DNS_FORMERR, true);
}

static void test_dns_tcp_framing(void **state)
{
	(void)state;
	uint8_t stream[2 * (2 + sizeof(dig_query))];
	for (int i = 0; i < 2; i++) {
		uint8_t *p = stream + i * (2 + sizeof(dig_query));
		p[0] = 0;
		p[1] = sizeof(dig_query);
		memcpy(p + 2, dig_query, sizeof(dig_query));
	}
	/* One byte at a time: each message comes out exactly when complete. */
	size_t start = 0, got = 0;
	for (size_t k = 1; k <= sizeof(stream); k++) {
		const uint8_t *msg;
		size_t len, used;
		int r = hs_dns_tcp_next(stream + start, k - start, &msg, &len, &used);
		if (r == 0)
			continue;
		assert_int_equal(r, 1);
		assert_int_equal(len, sizeof(dig_query));
		assert_int_equal(used, k - start);
		assert_memory_equal(msg, dig_query, len);
		struct hs_dns_query q;
		assert_int_equal(hs_dns_parse_query(msg, len, &q), 0);
		start += used;
		got++;
	}
	assert_int_equal(got, 2);
	const uint8_t *msg;
	size_t len, used;
	assert_int_equal(hs_dns_tcp_next((const uint8_t *)"\x00\x0b", 2, &msg, &len, &used), -1);
	assert_int_equal(hs_dns_tcp_next((const uint8_t *)"\x00", 1, &msg, &len, &used), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_curl_connect),
	    cmocka_unit_test(test_http_git_connect_then_tls),
	    cmocka_unit_test(test_http_python_absolute_get),
	    cmocka_unit_test(test_http_targets),
	    cmocka_unit_test(test_http_bodies),
	    cmocka_unit_test(test_http_smuggling_refused),
	    cmocka_unit_test(test_http_targets_refused),
	    cmocka_unit_test(test_http_limits),
	    cmocka_unit_test(test_http_forward_hop_by_hop),
	    cmocka_unit_test(test_http_error_response),
	    cmocka_unit_test(test_socks5_curl),
	    cmocka_unit_test(test_socks5_addresses),
	    cmocka_unit_test(test_socks5_refused),
	    cmocka_unit_test(test_socks5_reply),
	    cmocka_unit_test(test_sni_real_hellos),
	    cmocka_unit_test(test_sni_across_records),
	    cmocka_unit_test(test_sni_absent_ech),
	    cmocka_unit_test(test_sni_malformed),
	    cmocka_unit_test(test_dns_dig_query),
	    cmocka_unit_test(test_dns_answers),
	    cmocka_unit_test(test_dns_refused),
	    cmocka_unit_test(test_dns_name_limits),
	    cmocka_unit_test(test_dns_tcp_framing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
