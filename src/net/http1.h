/*
 * http1.h: the HTTP/1.x request head parser of the egress proxy, and the
 * heads the proxy writes (a forwarded request, an error response). Pure
 * code: no I/O, no allocation, bounded by the constants below.
 *
 * Everything parsed here comes from inside the sandbox and is hostile. The
 * parser is strict where a lenient reading could make the proxy and the
 * server disagree about where a request ends or where it goes (request
 * smuggling): obs-fold, bare CR or LF, NUL and other control bytes,
 * whitespace before a colon, invalid token bytes, a second Host, both
 * Content-Length and Transfer-Encoding, differing Content-Lengths, a
 * Transfer-Encoding whose last coding is not chunked, versions other than
 * HTTP/1.0 and HTTP/1.1 are all refused.
 *
 * Target forms accepted:
 *   CONNECT host:port HTTP/1.1       authority form; host may be [v6]; port required
 *   GET http://host[:port]/p HTTP/1.1 absolute form (plain HTTP forwarding);
 *                                    https:// and user@host are refused
 *   GET /p HTTP/1.1 + Host: host     origin form (transparent interception)
 * The host is returned as raw bytes, NOT validated as a name: the rules
 * module (rules.h) does that. Only what would make the authority itself
 * ambiguous is refused here: userinfo ('@'), whitespace, and the
 * delimiters / ? # [ ] \ outside an IPv6 literal, whose brackets are
 * removed (host_is_ip6 set; inside them only hex digits, ':' and '.').
 *
 * Incremental use: hs_http_request_init() once per connection, then call
 * hs_http_parse_request() each time more bytes arrived, with the whole
 * buffer received so far (the same bytes as before plus more; it may have
 * moved: only offsets are kept between calls). Each byte is examined once,
 * so a client trickling its head costs O(head), not O(head^2). The result
 * does not depend on how the input was split. After DONE or ERROR further
 * calls return the same result.
 */
#ifndef HS_NET_HTTP1_H
#define HS_NET_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HS_HTTP_HEAD_MAX (16 * 1024) /* request line + headers + blank line */
#define HS_HTTP_LINE_MAX (8 * 1024)  /* one line, CRLF not counted */
#define HS_HTTP_HEADERS_MAX 100

enum hs_http_result {
	HS_HTTP_ERROR = -1,
	HS_HTTP_NEED_MORE = 0,
	HS_HTTP_DONE = 1,
};

/* Why a head was refused; error_status is the HTTP status to answer with. */
enum hs_http_error_code {
	HS_HTTP_E_NONE = 0,
	HS_HTTP_E_HEAD_TOO_LARGE,   /* 431 */
	HS_HTTP_E_URI_TOO_LONG,	    /* 414: the request line */
	HS_HTTP_E_HEADER_TOO_LONG,  /* 431: one header line */
	HS_HTTP_E_TOO_MANY_HEADERS, /* 431 */
	HS_HTTP_E_BAD_BYTE,	    /* 400: NUL, control byte, bare CR or LF */
	HS_HTTP_E_REQUEST_LINE,	    /* 400: not METHOD SP TARGET SP VERSION */
	HS_HTTP_E_METHOD,	    /* 400: invalid method token */
	HS_HTTP_E_VERSION,	    /* 505: HTTP/x.y other than 1.0 or 1.1 */
	HS_HTTP_E_TARGET,	    /* 400: malformed or unsupported target */
	HS_HTTP_E_SCHEME,	    /* 400: https:// or another scheme in absolute form */
	HS_HTTP_E_USERINFO,	    /* 400: user@host */
	HS_HTTP_E_PORT,		    /* 400: port missing, malformed, 0 or > 65535 */
	HS_HTTP_E_HEADER,	    /* 400: malformed header line */
	HS_HTTP_E_OBS_FOLD,	    /* 400: a line folded onto the previous one */
	HS_HTTP_E_HOST,		    /* 400: Host missing (origin form), repeated, malformed */
	HS_HTTP_E_FRAMING,	    /* 400: Content-Length / Transfer-Encoding conflicts */
	HS_HTTP_E_CODING,	    /* 501: a transfer coding list not ending in chunked */
	HS_HTTP_E_USAGE,	    /* 500: the caller broke the contract (shorter buffer) */
};

enum hs_http_form {
	HS_HTTP_FORM_NONE = 0,
	HS_HTTP_FORM_AUTHORITY, /* CONNECT host:port */
	HS_HTTP_FORM_ABSOLUTE,	/* http://host[:port]/path */
	HS_HTTP_FORM_ORIGIN,	/* /path, host from the Host header */
};

enum hs_http_body {
	HS_HTTP_BODY_NONE = 0, /* no body (or CONNECT: a tunnel follows) */
	HS_HTTP_BODY_LENGTH,   /* content_length bytes */
	HS_HTTP_BODY_CHUNKED,  /* chunked is the last transfer coding */
};

/* Bytes [off, off + len) of the parsed buffer (the head is < 64 KiB). */
struct hs_http_span {
	uint16_t off, len;
};

struct hs_http_header {
	struct hs_http_span name;  /* as sent (case kept) */
	struct hs_http_span value; /* leading and trailing SP/HTAB removed */
};

struct hs_http_request {
	/* Set on DONE: pointers into the buffer of the call that returned
	 * DONE, valid as long as it is; the spans below stay valid for any
	 * copy of the buffer. */
	const char *method, *host, *path;
	size_t method_len, host_len, path_len;

	uint16_t port; /* explicit, or 80 (absolute and origin form) */
	bool port_explicit;
	bool is_connect;
	bool host_is_ip6; /* host was [v6]; host holds what was inside */
	enum hs_http_form form;
	int version; /* 10 or 11 */
	enum hs_http_body body;
	uint64_t content_length; /* HS_HTTP_BODY_LENGTH */
	bool upgrade;		 /* an Upgrade header was sent (dropped when forwarded) */
	size_t head_len;	 /* bytes of the head, blank line included (= *used) */

	struct hs_http_span method_span;
	struct hs_http_span target_span;    /* the request target as sent */
	struct hs_http_span authority_span; /* host[:port] as sent (URI, target or Host value) */
	struct hs_http_span host_span;	    /* host without brackets */
	struct hs_http_span path_span;	    /* path and query; empty when the absolute
					       form had none ("/" when forwarded) */
	size_t nheaders;
	struct hs_http_header headers[HS_HTTP_HEADERS_MAX];

	/* Set on ERROR. error is a static string: it never echoes input. */
	enum hs_http_error_code error_code;
	int error_status;
	const char *error;

	/* Parser state: private. */
	struct {
		int result;
		uint32_t scan;	     /* bytes examined */
		uint32_t line_start; /* offset of the line being read */
		uint32_t nlines;     /* complete lines so far */
		bool cr;	     /* the previous byte was CR */
		bool method_done;    /* the first SP of the request line was seen */
		bool seen_host, seen_cl, seen_te, te_chunked;
		uint16_t host_line; /* header index of Host, for origin form */
	} st;
};

void hs_http_request_init(struct hs_http_request *rq);

/*
 * Parses buf[0..len) (everything received so far). Returns
 *   HS_HTTP_NEED_MORE  the head is incomplete and valid so far;
 *   HS_HTTP_DONE       *used = the head's length (bytes after it are a body
 *                      or a tunnel's first bytes);
 *   HS_HTTP_ERROR      rq->error_code, rq->error_status, rq->error set.
 * Only the first HS_HTTP_HEAD_MAX bytes are ever looked at.
 */
int hs_http_parse_request(const char *buf, size_t len, struct hs_http_request *rq, size_t *used);

/* The bytes of a span of buf. */
static inline const char *hs_http_span_ptr(const char *buf, struct hs_http_span s)
{
	return buf + s.off;
}

/* The first header named `name` (ASCII case-insensitive), or NULL. */
const struct hs_http_header *hs_http_find_header(const struct hs_http_request *rq, const char *buf,
						 const char *name);

/*
 * The head to send upstream for a parsed non-CONNECT request (absolute or
 * origin form), written to out (cap bytes): the request line in origin
 * form with HTTP/1.1, Host set to the authority the request was routed by
 * (the URI's, never a second one from the client), hop-by-hop headers
 * dropped (Connection, Proxy-Connection, Keep-Alive, Proxy-Authorization,
 * Proxy-Authenticate, TE, Upgrade, and every header the Connection headers
 * name), `Connection: close` added, and the blank line. Content-Length,
 * Transfer-Encoding and Trailer are kept: the body is relayed unchanged.
 * buf is the buffer rq was parsed from. Returns the length written (no NUL
 * is added), or -1 when rq is not a DONE non-CONNECT request, a span lies
 * outside buf's head, or cap is too small. The result is at most
 * rq->head_len + HS_HTTP_FORWARD_EXTRA bytes (Host and Connection lines,
 * and a space after each header's colon).
 */
#define HS_HTTP_FORWARD_EXTRA (32 + HS_HTTP_HEADERS_MAX)
ssize_t hs_http_forward_head(const struct hs_http_request *rq, const char *buf, char *out,
			     size_t cap);

/*
 * An error response with Connection: close and a text/plain body:
 *   HTTP/1.1 STATUS REASON, Content-Type, Content-Length, Connection,
 *   [header_name: header_value], blank line, body.
 * reason NULL: the standard phrase for status. status outside 100..599 is
 * sent as 500. Header and reason text are cleaned: control bytes (CR and
 * LF included) and bytes >= 0x7f become '?', and they are cut at 512 bytes,
 * so a host name cannot inject a header. header_name must be a token, else
 * the header is left out; header_name or header_value NULL: no header. The
 * body has its control bytes other than LF and TAB replaced, and is cut to
 * what fits in cap. Returns the length written (a NUL follows when there is
 * room), or 0 when cap cannot hold the head.
 */
size_t hs_http_error_response(char *buf, size_t cap, int status, const char *reason,
			      const char *header_name, const char *header_value, const char *body);

/* "Forbidden" for 403, ...; "Error" for unknown statuses. */
const char *hs_http_status_phrase(int status);

#endif
