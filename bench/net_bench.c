/*
 * net_bench.c: the server and the client of bench/run-net.sh (built by it
 * with gcc; not part of harness).
 *
 *   net_bench serve PORTFILE
 *       An HTTP/1.1 server on 127.0.0.1 (an ephemeral port, written to
 *       PORTFILE): single-threaded, epoll, non-blocking. GET /bytes/N
 *       answers N bytes of body (from a static 1 MiB buffer) with a
 *       Content-Length; keep-alive unless the request says
 *       "Connection: close". Runs until killed.
 *
 *   net_bench get  MODE HOST:PORT N
 *       One GET /bytes/N; prints "bytes=... seconds=... MBps=..." (MB =
 *       10^6 bytes), timed from before connect() to the last body byte.
 *   net_bench rps  MODE HOST:PORT COUNT BODY
 *       COUNT sequential GETs of /bytes/BODY; prints "requests=...
 *       seconds=... rps=...". Every request on a new TCP connection (and,
 *       through a proxy, a new tunnel / forwarded request), unless MODE
 *       ends in "-ka": then one connection (one tunnel) carries them all.
 *   net_bench hold MODE HOST:PORT COUNT SECONDS [RPS]
 *       Opens COUNT connections, makes one GET /bytes/100 on each (so every
 *       tunnel is up and has relayed both ways), prints "READY n seconds",
 *       then, with RPS, makes RPS more GETs of /bytes/100 as "rps MODE"
 *       would (new connections while COUNT are held) and prints that line,
 *       keeps them all open SECONDS more, closes them and prints "DONE".
 *
 * MODE: direct (plain TCP to HOST:PORT), http (absolute-form request to the
 * proxy in $HTTP_PROXY / $http_proxy), connect (CONNECT through that proxy,
 * then the request inside the tunnel), socks (SOCKS5 through the first of
 * $NETBENCH_SOCKS_PROXY, $ALL_PROXY, $all_proxy, $FTP_PROXY, $ftp_proxy whose
 * scheme is socks5 or socks5h -- srt's is in FTP_PROXY --, else
 * 127.0.0.1:1080, where harness's SOCKS5 proxy listens while its ALL_PROXY
 * names the HTTP proxy), and direct-ka / connect-ka / socks-ka for rps. Proxy URLs may
 * carry user:password (srt's do): sent as Proxy-Authorization: Basic, or
 * SOCKS5 username/password. NO_PROXY is ignored on purpose: the point is to
 * go through the proxy even to loopback.
 *
 * Every socket has TCP_NODELAY (as curl sets it); the client reads with a
 * 256 KiB buffer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static void die(const char *fmt, const char *a)
{
	fprintf(stderr, "net_bench: ");
	fprintf(stderr, fmt, a);
	if (errno)
		fprintf(stderr, ": %s", strerror(errno));
	fprintf(stderr, "\n");
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static char zeros[1 << 20];

/* ------------------------------------------------------------------ server */

struct sconn {
	int fd;
	char in[8192];
	size_t inlen;
	char head[256];
	size_t headlen, headoff;
	uint64_t body_left;
	bool writing, close_after;
};

/* A complete head is in c->in: set up the answer; drop the head. */
static int sconn_request(struct sconn *c, size_t headend)
{
	uint64_t n = 0;
	const char *p = c->in;
	if (strncmp(p, "GET /bytes/", 11) == 0)
		n = strtoull(p + 11, NULL, 10);
	else if (strncmp(p, "GET ", 4) != 0)
		return -1;
	c->close_after = memmem(c->in, headend, "\r\nConnection: close", 19) != NULL ||
			 memmem(c->in, headend, "\r\nconnection: close", 19) != NULL;
	c->headlen = (size_t)snprintf(c->head, sizeof(c->head),
				      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
				      "Content-Length: %llu\r\n%s\r\n",
				      (unsigned long long)n,
				      c->close_after ? "Connection: close\r\n" : "");
	c->headoff = 0;
	c->body_left = n;
	c->writing = true;
	memmove(c->in, c->in + headend, c->inlen - headend);
	c->inlen -= headend;
	return 0;
}

/* Makes all the progress it can (edge-triggered); -1: close. */
static int sconn_run(struct sconn *c)
{
	for (;;) {
		if (c->writing) {
			/* Small answers go out in one segment with the head. */
			if (c->headoff < c->headlen) {
				struct iovec iov[2] = {
				    {c->head + c->headoff, c->headlen - c->headoff},
				    {zeros, c->body_left < sizeof(zeros) ? c->body_left : sizeof(zeros)}};
				ssize_t w = writev(c->fd, iov, 2);
				if (w < 0)
					return errno == EAGAIN ? 0 : -1;
				size_t hw = (size_t)w < iov[0].iov_len ? (size_t)w : iov[0].iov_len;
				c->headoff += hw;
				c->body_left -= (uint64_t)((size_t)w - hw);
			}
			while (c->headoff == c->headlen && c->body_left) {
				size_t k = c->body_left < sizeof(zeros) ? c->body_left : sizeof(zeros);
				ssize_t w = send(c->fd, zeros, k, MSG_NOSIGNAL);
				if (w < 0)
					return errno == EAGAIN ? 0 : -1;
				c->body_left -= (uint64_t)w;
			}
			if (c->headoff < c->headlen)
				continue;
			c->writing = false;
			if (c->close_after)
				return -1;
		}
		char *e = memmem(c->in, c->inlen, "\r\n\r\n", 4);
		if (e) {
			if (sconn_request(c, (size_t)(e - c->in) + 4) < 0)
				return -1;
			continue;
		}
		if (c->inlen == sizeof(c->in))
			return -1;
		ssize_t r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (r == 0)
			return -1;
		if (r < 0)
			return errno == EAGAIN ? 0 : -1;
		c->inlen += (size_t)r;
	}
}

static int serve(const char *portfile)
{
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 4096) < 0)
		die("%s", "bind/listen");
	socklen_t sl = sizeof(sa);
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	FILE *f = fopen(portfile, "w");
	if (!f)
		die("cannot write %s", portfile);
	fprintf(f, "%u\n", ntohs(sa.sin_port));
	fclose(f);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno == EINTR)
			continue;
		for (int i = 0; i < n; i++) {
			struct sconn *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					nodelay(fd);
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
					if (sconn_run(c) < 0) {
						close(fd);
						free(c);
					}
				}
				continue;
			}
			if (sconn_run(c) < 0) {
				close(c->fd);
				free(c);
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ client */

struct proxy {
	char host[256], port[8];
	char user[256], pass[256];
	bool set;
};

static void b64(const char *s, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), j = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)(unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		out[j++] = t[v >> 18 & 63];
		out[j++] = t[v >> 12 & 63];
		out[j++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[j++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[j] = '\0';
}

/* scheme://[user:pass@]host:port[/] */
static bool parse_proxy(const char *url, struct proxy *p)
{
	memset(p, 0, sizeof(*p));
	const char *s = strstr(url, "://");
	s = s ? s + 3 : url;
	const char *at = strrchr(s, '@');
	if (at) {
		const char *colon = memchr(s, ':', (size_t)(at - s));
		if (!colon)
			return false;
		snprintf(p->user, sizeof(p->user), "%.*s", (int)(colon - s), s);
		snprintf(p->pass, sizeof(p->pass), "%.*s", (int)(at - colon - 1), colon + 1);
		s = at + 1;
	}
	const char *colon = strrchr(s, ':');
	if (!colon)
		return false;
	snprintf(p->host, sizeof(p->host), "%.*s", (int)(colon - s), s);
	snprintf(p->port, sizeof(p->port), "%.*s", (int)strcspn(colon + 1, "/"), colon + 1);
	p->set = true;
	return true;
}

static int tcp_connect(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		errno = 0;
		die("cannot resolve %s", host);
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0)
		die("connect to %s", host);
	freeaddrinfo(res);
	nodelay(fd);
	return fd;
}

static void write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("%s", "send");
		}
		p += w;
		n -= (size_t)w;
	}
}

static void read_exact(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			die("%s", "short read");
		p += r;
		n -= (size_t)r;
	}
}

/* srt starts the relays to its proxy in the sandbox next to the command, so
 * the first connection may find nothing listening yet: wait (up to 5 s,
 * untimed) until the proxy accepts a connection, which is closed again. */
static void wait_for_proxy(const struct proxy *p)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(p->host, p->port, &hints, &res) != 0)
		return;
	for (int i = 0; i < 500; i++) {
		int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r = connect(fd, res->ai_addr, res->ai_addrlen);
		close(fd);
		if (r == 0)
			break;
		usleep(10000);
	}
	freeaddrinfo(res);
}

enum mode { M_DIRECT, M_HTTP, M_CONNECT, M_SOCKS };

struct client {
	enum mode mode;
	bool keepalive;
	char host[256], port[8], hostport[300];
	struct proxy px;
	char auth[700]; /* "Proxy-Authorization: ...\r\n" or "" */
	char *buf;      /* reading */
	size_t cap, len;
};

static void parse_mode(struct client *c, const char *m)
{
	size_t n = strlen(m);
	c->keepalive = n > 3 && strcmp(m + n - 3, "-ka") == 0;
	if (c->keepalive)
		n -= 3;
	if (strncmp(m, "direct", n) == 0 && n == 6)
		c->mode = M_DIRECT;
	else if (strncmp(m, "http", n) == 0 && n == 4)
		c->mode = M_HTTP;
	else if (strncmp(m, "connect", n) == 0 && n == 7)
		c->mode = M_CONNECT;
	else if (strncmp(m, "socks", n) == 0 && n == 5)
		c->mode = M_SOCKS;
	else
		die("unknown mode %s", m);
	if (c->keepalive && c->mode == M_HTTP)
		die("%s: one request per upstream connection through the proxy's plain-HTTP path", m);
	const char *url = NULL;
	if (c->mode == M_HTTP || c->mode == M_CONNECT) {
		url = getenv("HTTP_PROXY");
		if (!url)
			url = getenv("http_proxy");
	} else if (c->mode == M_SOCKS) {
		const char *names[] = {"NETBENCH_SOCKS_PROXY", "ALL_PROXY", "all_proxy", "FTP_PROXY",
				       "ftp_proxy"};
		for (size_t i = 0; i < 5 && !url; i++) {
			const char *v = getenv(names[i]);
			if (v && strncmp(v, "socks5", 6) == 0)
				url = v;
		}
		/* harness names its HTTP proxy in ALL_PROXY and documents its
		 * SOCKS5 proxy at this address. */
		if (!url)
			url = "socks5h://127.0.0.1:1080";
	}
	if (c->mode != M_DIRECT && (!url || !parse_proxy(url, &c->px))) {
		errno = 0;
		die("mode %s: no usable proxy URL in the environment", m);
	}
	c->auth[0] = '\0';
	if (c->mode != M_DIRECT)
		wait_for_proxy(&c->px);
	if (c->px.user[0]) {
		char up[520], enc[700];
		snprintf(up, sizeof(up), "%s:%s", c->px.user, c->px.pass);
		b64(up, enc);
		snprintf(c->auth, sizeof(c->auth), "Proxy-Authorization: Basic %.*s\r\n", 600, enc);
	}
}

/* Reads one HTTP response head into c->buf (keeping what follows it);
 * returns the status and the head's length. */
static int read_head(struct client *c, int fd, size_t *headlen, uint64_t *clen)
{
	for (;;) {
		char *e = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
		if (e) {
			*headlen = (size_t)(e - c->buf) + 4;
			int status = 0;
			sscanf(c->buf, "HTTP/1.%*d %d", &status);
			*clen = UINT64_MAX;
			for (char *p = c->buf; p && p < e; p = strstr(p, "\r\n")) {
				p += 2;
				if (strncasecmp(p, "Content-Length:", 15) == 0)
					*clen = strtoull(p + 15, NULL, 10);
			}
			return status;
		}
		ssize_t r = read(fd, c->buf + c->len, c->cap - c->len);
		if (r <= 0) {
			errno = 0;
			die("%s", r == 0 ? "connection closed before a response head"
					 : "read error before a response head");
		}
		c->len += (size_t)r;
	}
}

static void consume(struct client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* A connection on which "GET /bytes/N" can be sent (a tunnel through the
 * proxy, or the server itself), except for M_HTTP, which needs none. */
static int open_conn(struct client *c)
{
	if (c->mode == M_DIRECT)
		return tcp_connect(c->host, c->port);
	int fd = tcp_connect(c->px.host, c->px.port);
	if (c->mode == M_CONNECT) {
		char req[1200];
		int n = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
				 c->hostport, c->hostport, c->auth);
		write_all(fd, req, (size_t)n);
		size_t hl;
		uint64_t cl;
		c->len = 0;
		int st = read_head(c, fd, &hl, &cl);
		if (st != 200) {
			errno = 0;
			c->buf[hl - 1] = '\0';
			die("CONNECT refused: %s", c->buf);
		}
		consume(c, hl);
	} else if (c->mode == M_SOCKS) {
		uint8_t b[600];
		bool auth = c->px.user[0] != '\0';
		uint8_t greet[3] = {5, 1, auth ? 2 : 0};
		write_all(fd, greet, 3);
		read_exact(fd, b, 2);
		if (b[0] != 5 || b[1] != greet[2]) {
			errno = 0;
			die("%s", "SOCKS5 method refused");
		}
		if (auth) {
			size_t ul = strlen(c->px.user), pl = strlen(c->px.pass), k = 0;
			b[k++] = 1;
			b[k++] = (uint8_t)ul;
			memcpy(b + k, c->px.user, ul);
			k += ul;
			b[k++] = (uint8_t)pl;
			memcpy(b + k, c->px.pass, pl);
			k += pl;
			write_all(fd, b, k);
			read_exact(fd, b, 2);
			if (b[1] != 0) {
				errno = 0;
				die("%s", "SOCKS5 authentication refused");
			}
		}
		size_t hl = strlen(c->host), k = 0;
		b[k++] = 5;
		b[k++] = 1;
		b[k++] = 0;
		b[k++] = 3;
		b[k++] = (uint8_t)hl;
		memcpy(b + k, c->host, hl);
		k += hl;
		uint16_t port = htons((uint16_t)atoi(c->port));
		memcpy(b + k, &port, 2);
		k += 2;
		write_all(fd, b, k);
		read_exact(fd, b, 4);
		if (b[1] != 0) {
			errno = 0;
			char why[8];
			snprintf(why, sizeof(why), "%u", b[1]);
			die("SOCKS5 connect refused, reply %s", why);
		}
		size_t rest = b[3] == 1 ? 6 : b[3] == 4 ? 18 : 0;
		if (b[3] == 3) {
			read_exact(fd, b, 1);
			rest = (size_t)b[0] + 2;
		}
		read_exact(fd, b, rest);
	}
	return fd;
}

/* One request on fd; returns body bytes read. */
static uint64_t request(struct client *c, int fd, uint64_t n, bool close_after)
{
	char req[1200];
	int k;
	if (c->mode == M_HTTP)
		k = snprintf(req, sizeof(req),
			     "GET http://%s/bytes/%llu HTTP/1.1\r\nHost: %s\r\n%sAccept: */*\r\n\r\n",
			     c->hostport, (unsigned long long)n, c->hostport, c->auth);
	else
		k = snprintf(req, sizeof(req),
			     "GET /bytes/%llu HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\n%s\r\n",
			     (unsigned long long)n, c->hostport,
			     close_after ? "Connection: close\r\n" : "");
	write_all(fd, req, (size_t)k);
	size_t hl;
	uint64_t cl;
	int st = read_head(c, fd, &hl, &cl);
	if (st != 200) {
		errno = 0;
		c->buf[hl - 1] = '\0';
		die("request refused: %s", c->buf);
	}
	consume(c, hl);
	uint64_t got = c->len;
	c->len = 0;
	while (got < cl) {
		ssize_t r = read(fd, c->buf, c->cap);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (cl == UINT64_MAX)
				break;
			errno = 0;
			die("%s", "body cut short");
		}
		got += (uint64_t)r;
	}
	if (got > cl) { /* bytes of the next response: not expected */
		errno = 0;
		die("%s", "more body than Content-Length");
	}
	return got;
}

static void client_init(struct client *c, const char *mode, const char *target)
{
	memset(c, 0, sizeof(*c));
	parse_mode(c, mode);
	const char *colon = strrchr(target, ':');
	if (!colon)
		die("target %s: want HOST:PORT", target);
	snprintf(c->host, sizeof(c->host), "%.*s", (int)(colon - target), target);
	snprintf(c->port, sizeof(c->port), "%s", colon + 1);
	snprintf(c->hostport, sizeof(c->hostport), "%s", target);
	c->cap = 256 * 1024;
	c->buf = malloc(c->cap);
}

static int cmd_get(const char *mode, const char *target, uint64_t n)
{
	struct client c;
	client_init(&c, mode, target);
	double t0 = now();
	int fd = open_conn(&c);
	uint64_t got = request(&c, fd, n, true);
	double t = now() - t0;
	close(fd);
	if (got != n) {
		errno = 0;
		die("%s", "wrong body length");
	}
	printf("bytes=%llu seconds=%.6f MBps=%.1f\n", (unsigned long long)got, t, (double)got / t / 1e6);
	return 0;
}

static int cmd_rps(const char *mode, const char *target, unsigned count, uint64_t body)
{
	struct client c;
	client_init(&c, mode, target);
	double t0 = now();
	int fd = -1;
	for (unsigned i = 0; i < count; i++) {
		if (fd < 0)
			fd = open_conn(&c);
		if (request(&c, fd, body, !c.keepalive) != body) {
			errno = 0;
			die("%s", "wrong body length");
		}
		if (!c.keepalive) {
			close(fd);
			fd = -1;
		}
	}
	double t = now() - t0;
	if (fd >= 0)
		close(fd);
	printf("requests=%u seconds=%.6f rps=%.1f\n", count, t, count / t);
	return 0;
}

static int cmd_rps(const char *mode, const char *target, unsigned count, uint64_t body);

static int cmd_hold(const char *mode, const char *target, unsigned count, unsigned secs,
		    unsigned rps_count)
{
	raise_nofile();
	struct client c;
	client_init(&c, mode, target);
	int *fds = calloc(count, sizeof(int));
	double t0 = now();
	for (unsigned i = 0; i < count; i++) {
		fds[i] = open_conn(&c);
		if (request(&c, fds[i], 100, false) != 100) {
			errno = 0;
			die("%s", "wrong body length");
		}
	}
	printf("READY %u %.3f\n", count, now() - t0);
	fflush(stdout);
	if (rps_count) {
		/* Small requests on more connections while COUNT are open. */
		cmd_rps(mode, target, rps_count, 100);
		fflush(stdout);
	}
	sleep(secs);
	for (unsigned i = 0; i < count; i++)
		close(fds[i]);
	printf("DONE\n");
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	if (argc == 5 && strcmp(argv[1], "get") == 0)
		return cmd_get(argv[2], argv[3], strtoull(argv[4], NULL, 10));
	if (argc == 6 && strcmp(argv[1], "rps") == 0)
		return cmd_rps(argv[2], argv[3], (unsigned)atoi(argv[4]), strtoull(argv[5], NULL, 10));
	if ((argc == 6 || argc == 7) && strcmp(argv[1], "hold") == 0)
		return cmd_hold(argv[2], argv[3], (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]),
				argc == 7 ? (unsigned)atoi(argv[6]) : 0);
	fprintf(stderr, "usage: net_bench serve PORTFILE | get MODE HOST:PORT BYTES | "
			"rps MODE HOST:PORT COUNT BODY | hold MODE HOST:PORT COUNT SECONDS [RPS]\n");
	return 2;
}
