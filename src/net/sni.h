/*
 * sni.h: the server name a TLS client asks for, read from its ClientHello
 * (RFC 8446 section 4.1.2, RFC 6066 section 3). Pure code: no I/O, no
 * allocation.
 *
 * Input: the first bytes a client sent on a connection. The ClientHello
 * may span several handshake records (a client may fragment it, and some
 * tools do so on purpose to hide the name from filters): up to
 * HS_SNI_RECORDS_MAX records are put back together, and the ClientHello
 * body is bounded by HS_SNI_HELLO_MAX. Every length field is checked
 * against the one that encloses it; a ClientHello with a duplicated
 * extension, with trailing bytes, or with bytes after it in its last
 * record is refused.
 *
 * ECH: with Encrypted Client Hello (extension 0xfe0d) the name seen here
 * is the outer, public name (often a CDN's); the name the client really
 * wants is encrypted. The same goes for the draft ESNI (0xffce), which
 * carries no readable name at all. Both are reported (ech, esni) so the
 * caller can refuse them or treat the outer name with suspicion; the
 * parser does not decide.
 */
#ifndef HS_NET_SNI_H
#define HS_NET_SNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_SNI_HELLO_MAX (16 * 1024) /* ClientHello body bytes */
#define HS_SNI_RECORDS_MAX 32	     /* records the ClientHello may span */
#define HS_SNI_NAME_MAX 255

enum hs_sni_result {
	HS_SNI_ERROR = -1,    /* not TLS, or a malformed ClientHello: error set */
	HS_SNI_NEED_MORE = 0, /* the ClientHello is not complete yet */
	HS_SNI_FOUND = 1,     /* name set */
	HS_SNI_NONE = 2,      /* a complete ClientHello without server_name */
};

struct hs_sni {
	char name[HS_SNI_NAME_MAX + 1]; /* host_name's raw bytes (name_len, may contain
					   NUL: not validated), NUL-terminated */
	size_t name_len;
	bool ech;		 /* encrypted_client_hello present: name is the outer name */
	bool esni;		 /* draft encrypted_server_name present */
	bool not_tls;		 /* ERROR because the first byte is not a handshake record */
	uint16_t legacy_version; /* ClientHello.legacy_version (0x0303 for TLS 1.2 and 1.3) */
	size_t hello_bytes;	 /* input bytes holding the ClientHello (record headers
				    included); set with FOUND and NONE */
	const char *error;	 /* static text */
};

/* Looks at buf[0..len), everything the client sent so far. Stateless: call
 * again with more bytes after NEED_MORE; the answer for a given input does
 * not depend on earlier calls. */
int hs_sni_parse(const uint8_t *buf, size_t len, struct hs_sni *out);

#endif
