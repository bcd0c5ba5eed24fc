/*
 * approve.c: human approval of `ask` commands (see approve.h).
 *
 * Every request lives in a fixed table of max_pending slots. A slot is
 * either waiting for the terminal (FIFO, one question on screen at a
 * time), on screen, or handed to an approver command. Each slot has its own
 * timer, started at submit: whatever has not been decided when it fires is
 * denied. Everything runs on the supervisor's libevent base, in its one
 * thread: nothing here blocks (the terminal and the pipes are non-blocking).
 */
#define _GNU_SOURCE
#include "approve.h"
#include "exec.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum slot_state { FREE = 0, QUEUED, ON_TTY, RUNNING };

struct slot {
	struct hs_approvals *owner;
	enum slot_state state;
	struct hs_approval_request rq; /* deep copy */
	uint64_t started_ms;
	uint64_t queue_no; /* FIFO order for the terminal */
	struct event *timer;
	/* approver command */
	pid_t pid;
	int pidfd, in, out; /* in: our end of its stdin (a socket), out: its stdout */
	struct event *ev_pid, *ev_in, *ev_out;
	char *input;
	size_t input_len, input_off;
	char answer[HS_APPROVAL_MAX_OUTPUT + 1];
	size_t answer_len;
	bool too_long;
};

struct hs_approvals {
	struct event_base *base;
	struct hs_approval_config cfg;
	hs_approval_done_fn done;
	void *ctx;
	struct slot *slots;
	uint64_t next_queue_no;
	/* terminal */
	int tty;
	struct event *ev_tty;
	struct slot *on_tty;
	struct termios saved;
	bool saved_valid;
	char line[128];
	size_t line_len;
	char user[64];
	bool closing; /* hs_approvals_free: no new questions */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- request copies ---- */

static char *dup_or_null(const char *s)
{
	return s ? hs_xstrdup(s) : NULL;
}

static void copy_request(struct hs_approval_request *dst, const struct hs_approval_request *src)
{
	*dst = *src;
	dst->path = dup_or_null(src->path);
	dst->cwd = dup_or_null(src->cwd);
	dst->command = dup_or_null(src->command);
	dst->rule_id = dup_or_null(src->rule_id);
	dst->rule_origin = dup_or_null(src->rule_origin);
	dst->reason = dup_or_null(src->reason);
	char **v = hs_xcalloc(src->argc + 1, sizeof(char *));
	for (size_t i = 0; i < src->argc; i++)
		v[i] = hs_xstrdup(src->argv[i]);
	dst->argv = v;
}

static void free_request(struct hs_approval_request *rq)
{
	free((char *)rq->path);
	free((char *)rq->cwd);
	free((char *)rq->command);
	free((char *)rq->rule_id);
	free((char *)rq->rule_origin);
	free((char *)rq->reason);
	for (size_t i = 0; rq->argv && i < rq->argc; i++)
		free(rq->argv[i]);
	free((void *)rq->argv);
	memset(rq, 0, sizeof(*rq));
}

/* ---- the approver's input and answer ---- */

char *hs_approval_request_json(const struct hs_approval_request *rq, const char *run_id,
			       const char *agent_id, uint64_t timeout_ms)
{
	json_t *argv = json_array();
	for (size_t i = 0; i < rq->argc; i++)
		json_array_append_new(argv, json_stringn_nocheck(rq->argv[i], strlen(rq->argv[i])));
	json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:s, s:o, s:s, s:s, s:{s:s, s:s, s:s?}, s:I}",
			      "version", 1, "run_id", run_id ? run_id : "", "agent_id",
			      agent_id ? agent_id : "", "pid", (json_int_t)rq->pid, "path",
			      rq->path ? rq->path : "", "argv", argv, "cwd", rq->cwd ? rq->cwd : "",
			      "command", rq->command ? rq->command : "", "rule", "id",
			      rq->rule_id ? rq->rule_id : "", "origin",
			      rq->rule_origin ? rq->rule_origin : "", "reason", rq->reason,
			      "timeout_ms", (json_int_t)timeout_ms);
	if (!o)
		return hs_xstrdup("{}");
	/* Bytes that are not UTF-8 were kept by json_stringn_nocheck; dumping
	 * them would fail, so ensure_ascii escapes what it can and, failing
	 * that, the request is sent without its argv. */
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!s) {
		json_object_set_new(o, "argv", json_array());
		json_object_set_new(o, "argv_omitted", json_string("not valid UTF-8"));
		s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	}
	json_decref(o);
	return s ? s : hs_xstrdup("{}");
}

/* Copies printable ASCII of s (at most 64 characters) as a name. */
static void sanitize_name(const char *s, size_t len, char *out, size_t cap)
{
	size_t j = 0;
	for (size_t i = 0; i < len && j + 1 < cap && j < 64; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[j] = '\0';
}

static bool word_is(const char *s, size_t len, const char *w)
{
	return len == strlen(w) && strncasecmp(s, w, len) == 0;
}

void hs_approval_parse_answer(const char *out, size_t len, int status,
			      struct hs_approval_decision *d)
{
	d->allow = false;
	snprintf(d->by, sizeof(d->by), "approver");
	d->why[0] = '\0';
	if (WIFSIGNALED(status)) {
		snprintf(d->why, sizeof(d->why), "the approver was killed by signal %d",
			 WTERMSIG(status));
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(d->why, sizeof(d->why), "the approver failed (exit status %d)",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return;
	}
	/* Trim surrounding whitespace. */
	while (len && isspace((unsigned char)*out))
		out++, len--;
	while (len && isspace((unsigned char)out[len - 1]))
		len--;
	if (len && out[0] == '{') {
		json_error_t je;
		json_t *o = json_loadb(out, len, JSON_REJECT_DUPLICATES, &je);
		const char *dec = o ? json_string_value(json_object_get(o, "decision")) : NULL;
		const char *by = o ? json_string_value(json_object_get(o, "by")) : NULL;
		const char *reason = o ? json_string_value(json_object_get(o, "reason")) : NULL;
		if (!o || !json_is_object(o) || !dec || (strcmp(dec, "allow") && strcmp(dec, "deny"))) {
			snprintf(d->why, sizeof(d->why),
				 "the approver's answer is not understood (want {\"decision\": "
				 "\"allow\"|\"deny\"} or the word allow or deny)");
			json_decref(o);
			return;
		}
		d->allow = strcmp(dec, "allow") == 0;
		if (by && *by) {
			char name[80];
			sanitize_name(by, strlen(by), name, sizeof(name));
			snprintf(d->by, sizeof(d->by), "approver:%s", name);
		}
		if (reason)
			sanitize_name(reason, strlen(reason), d->why, sizeof(d->why));
		json_decref(o);
		return;
	}
	if (word_is(out, len, "allow")) {
		d->allow = true;
		return;
	}
	if (word_is(out, len, "deny")) {
		snprintf(d->why, sizeof(d->why), "the approver said deny");
		return;
	}
	snprintf(d->why, sizeof(d->why),
		 len ? "the approver's answer is not understood (want the word allow or deny, or "
		       "{\"decision\": ...})"
		     : "the approver printed nothing");
}

/* ---- slots ---- */

static void slot_release(struct slot *s)
{
	if (s->timer)
		event_free(s->timer);
	if (s->ev_pid)
		event_free(s->ev_pid);
	if (s->ev_in)
		event_free(s->ev_in);
	if (s->ev_out)
		event_free(s->ev_out);
	hs_close(&s->pidfd);
	hs_close(&s->in);
	hs_close(&s->out);
	if (s->pid > 0) {
		/* Its whole process group: a shell's children too. */
		kill(-s->pid, SIGKILL);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	free(s->input);
	free_request(&s->rq);
	struct hs_approvals *owner = s->owner;
	memset(s, 0, sizeof(*s));
	s->owner = owner;
	s->pidfd = s->in = s->out = -1;
}

static void tty_next(struct hs_approvals *a);

/* Decides a slot: tells the caller, frees the slot, moves the terminal on. */
static void finish(struct hs_approvals *a, struct slot *s, bool allow, const char *by,
		   const char *why)
{
	struct hs_approval_decision d = {.allow = allow};
	snprintf(d.by, sizeof(d.by), "%s", by);
	snprintf(d.why, sizeof(d.why), "%s", why ? why : "");
	d.waited_ms = now_ms() - s->started_ms;
	bool was_on_tty = a->on_tty == s;
	struct hs_approval_request rq = s->rq;
	memset(&s->rq, 0, sizeof(s->rq)); /* ownership moves to rq until done() returns */
	if (was_on_tty) {
		if (a->saved_valid)
			tcsetattr(a->tty, TCSANOW, &a->saved);
		a->saved_valid = false;
		event_del(a->ev_tty);
		a->on_tty = NULL;
	}
	slot_release(s);
	a->done(a->ctx, &rq, &d);
	free_request(&rq);
	if (was_on_tty)
		tty_next(a);
}

static void finish_decision(struct hs_approvals *a, struct slot *s,
			    const struct hs_approval_decision *d)
{
	finish(a, s, d->allow, d->by, d->why);
}

static void tty_say(struct hs_approvals *a, const char *msg)
{
	if (a->tty >= 0)
		(void)hs_write_all(a->tty, msg, strlen(msg));
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	struct hs_approvals *a = s->owner;
	(void)fd;
	(void)what;
	char why[128];
	snprintf(why, sizeof(why), "nobody decided within %llu ms (--approval-timeout)",
		 (unsigned long long)a->cfg.timeout_ms);
	if (a->on_tty == s)
		tty_say(a, "\r\nharness: no answer in time: denied\r\n");
	finish(a, s, false, "timeout", why);
}

/* ---- the terminal ---- */

/* Printable on a terminal: anything but printable ASCII becomes '?', so a
 * command line cannot redraw, recolour or hide the question (escape
 * sequences, 8-bit controls, bidi overrides). */
static void screen_text(const char *s, char *out, size_t cap, size_t max)
{
	size_t j = 0;
	for (size_t i = 0; s && s[i] && j + 4 < cap; i++) {
		if (j >= max) {
			memcpy(out + j, "...", 3);
			j += 3;
			break;
		}
		unsigned char ch = (unsigned char)s[i];
		out[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[j] = '\0';
}

static void tty_prompt(struct hs_approvals *a, struct slot *s)
{
	char cmd[700], argv[700], cwd[500], reason[300], arg[300];
	screen_text(s->rq.command, cmd, sizeof(cmd), 600);
	screen_text(s->rq.cwd, cwd, sizeof(cwd), 400);
	screen_text(s->rq.reason, reason, sizeof(reason), 250);
	size_t j = 0;
	argv[0] = '\0';
	for (size_t i = 0; i < s->rq.argc && j < 600; i++) {
		screen_text(s->rq.argv[i], arg, sizeof(arg), 200);
		j += (size_t)snprintf(argv + j, sizeof(argv) - j, "%s%s", i ? " " : "", arg);
		if (j >= sizeof(argv))
			j = sizeof(argv) - 1;
	}
	/* The answer is read in canonical mode, with echo, whatever the
	 * program on the terminal had set; restored afterwards. Typed-ahead
	 * input is discarded: only an answer typed after the question counts. */
	struct termios t;
	if (tcgetattr(a->tty, &a->saved) == 0) {
		a->saved_valid = true;
		t = a->saved;
		t.c_lflag |= ICANON | ECHO | ECHOE | ECHOK | ISIG;
		t.c_iflag |= ICRNL;
		t.c_oflag |= OPOST | ONLCR;
		tcsetattr(a->tty, TCSANOW, &t);
	}
	tcflush(a->tty, TCIFLUSH);
	char *msg = hs_xasprintf("\r\nharness: approval needed: rule %s (%s)%s%s\r\n"
				 "  command: %s\r\n"
				 "  exec:    %s\r\n"
				 "  cwd:     %s\r\n"
				 "  pid:     %d\r\n"
				 "harness: allow it? type yes to allow, anything else denies "
				 "(%llu s left) [y/N] ",
				 s->rq.rule_id ? s->rq.rule_id : "?",
				 s->rq.rule_origin ? s->rq.rule_origin : "?", reason[0] ? ": " : "",
				 reason, cmd, argv, cwd, (int)s->rq.pid,
				 (unsigned long long)((a->cfg.timeout_ms -
						       (now_ms() - s->started_ms)) / 1000));
	(void)hs_write_all(a->tty, msg, strlen(msg));
	free(msg);
	a->line_len = 0;
	a->on_tty = s;
	s->state = ON_TTY;
	event_add(a->ev_tty, NULL);
}

/* Puts the oldest queued request on the terminal, if any. */
static void tty_next(struct hs_approvals *a)
{
	while (!a->on_tty && a->tty >= 0 && !a->closing) {
		struct slot *best = NULL;
		for (unsigned i = 0; i < a->cfg.max_pending; i++) {
			struct slot *s = &a->slots[i];
			if (s->state == QUEUED && (!best || s->queue_no < best->queue_no))
				best = s;
		}
		if (!best)
			return;
		/* A caller that died while queued has nothing left to approve. */
		if (best->rq.notify_fd >= 0 && !hs_exec_pending(best->rq.notify_fd, best->rq.cookie)) {
			finish(a, best, false, "run-ended", "the process that asked has gone");
			continue;
		}
		/* Only the terminal's foreground may read from it; a harness in
		 * the background would be stopped by SIGTTIN rather than ask. */
		if (tcgetpgrp(a->tty) != getpgrp()) {
			finish(a, best, false, "none",
			       "harness is not in the foreground of its terminal, so nobody can be "
			       "asked");
			continue;
		}
		tty_prompt(a, best);
	}
}

static void on_tty(evutil_socket_t fd, short what, void *arg)
{
	struct hs_approvals *a = arg;
	(void)what;
	struct slot *s = a->on_tty;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (!s)
		return;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* hung up, or EIO: nobody is there any more */
		finish(a, s, false, "none", "the terminal went away before an answer");
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		char ch = buf[i];
		if (ch == '\n' || ch == '\r') {
			/* Trim, then only "y" or "yes" approves. */
			size_t len = a->line_len;
			const char *l = a->line;
			while (len && isspace((unsigned char)*l))
				l++, len--;
			while (len && isspace((unsigned char)l[len - 1]))
				len--;
			bool yes = word_is(l, len, "y") || word_is(l, len, "yes");
			char by[100];
			snprintf(by, sizeof(by), "tty:%s", a->user);
			tty_say(a, yes ? "harness: allowed\r\n" : "harness: denied\r\n");
			finish(a, s, yes, by, yes ? "" : "denied at the terminal");
			return;
		}
		if (a->line_len < sizeof(a->line) - 1)
			a->line[a->line_len++] = ch;
	}
}

/* ---- the approver command ---- */

static void approver_maybe_done(struct slot *s);

static void on_approver_in(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	(void)what;
	while (s->input_off < s->input_len) {
		ssize_t n = send(fd, s->input + s->input_off, s->input_len - s->input_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* EV_PERSIST: called again when writable */
		if (n <= 0)
			break; /* it closed its stdin: its loss; the answer still counts */
		s->input_off += (size_t)n;
	}
	event_del(s->ev_in);
	hs_close(&s->in); /* EOF on its stdin */
}

static void on_approver_out(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	(void)what;
	for (;;) {
		char buf[1024];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			event_del(s->ev_out);
			hs_close(&s->out);
			break;
		}
		size_t room = HS_APPROVAL_MAX_OUTPUT - s->answer_len;
		if ((size_t)n > room) {
			s->too_long = true;
			n = (ssize_t)room;
		}
		memcpy(s->answer + s->answer_len, buf, (size_t)n);
		s->answer_len += (size_t)n;
		if (s->too_long) {
			event_del(s->ev_out);
			hs_close(&s->out);
			break;
		}
	}
	approver_maybe_done(s);
}

static void on_approver_exit(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	(void)fd;
	(void)what;
	approver_maybe_done(s);
}

/* Decides once the approver has exited (its status is part of the answer)
 * and its stdout is drained (or it wrote too much). */
static void approver_maybe_done(struct slot *s)
{
	struct hs_approvals *a = s->owner;
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (s->too_long) {
		finish(a, s, false, "approver",
		       "the approver's answer was too long (more than 4096 bytes)");
		return;
	}
	if (waitid(P_PID, (id_t)s->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
		return; /* still running */
	/* It exited: take what it wrote (a grandchild holding stdout open
	 * must not keep us waiting), then reap it. */
	if (s->out >= 0)
		on_approver_out(s->out, EV_READ, s);
	if (s->state == FREE)
		return; /* decided (too long) by the read just above */
	int status = 0;
	if (waitpid(s->pid, &status, WNOHANG) != s->pid)
		return;
	kill(-s->pid, SIGKILL); /* leftovers of its process group */
	s->pid = 0;
	struct hs_approval_decision d;
	hs_approval_parse_answer(s->answer, s->answer_len, status, &d);
	finish_decision(a, s, &d);
}

/* Starts the approver for slot s: /bin/sh -c CMD, in its own process group,
 * stdin a socket (we write the request, no SIGPIPE), stdout a pipe, stderr
 * harness's own. Returns 0 or -1 (errno). */
static int approver_start(struct hs_approvals *a, struct slot *s)
{
	int sv[2], op[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (pipe2(op, O_CLOEXEC) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		close(op[0]);
		close(op[1]);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		if (dup2(sv[1], 0) < 0 || dup2(op[1], 1) < 0)
			_exit(127);
		syscall(SYS_close_range, 3U, ~0U, 0U);
		/* The supervisor blocks the signals it forwards and ignores
		 * SIGPIPE; the approver starts with the defaults. */
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		for (int sig = 1; sig < NSIG; sig++)
			sigaction(sig, &dfl, NULL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setenv("HARNESS_RUN_ID", a->cfg.run_id ? a->cfg.run_id : "", 1);
		execl("/bin/sh", "sh", "-c", a->cfg.approver, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	close(sv[1]);
	close(op[1]);
	s->pid = pid;
	s->in = sv[0];
	s->out = op[0];
	fcntl(s->out, F_SETFL, O_NONBLOCK);
	s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	s->input = hs_approval_request_json(&s->rq, a->cfg.run_id, a->cfg.agent_id,
					    a->cfg.timeout_ms);
	size_t len = strlen(s->input);
	s->input = hs_xrealloc(s->input, len + 2);
	s->input[len] = '\n';
	s->input[len + 1] = '\0';
	s->input_len = len + 1;
	s->ev_in = event_new(a->base, s->in, EV_WRITE | EV_PERSIST, on_approver_in, s);
	s->ev_out = event_new(a->base, s->out, EV_READ | EV_PERSIST, on_approver_out, s);
	if (s->pidfd >= 0)
		s->ev_pid = event_new(a->base, s->pidfd, EV_READ, on_approver_exit, s);
	if (s->pidfd < 0 || !s->ev_in || !s->ev_out || !s->ev_pid || event_add(s->ev_in, NULL) < 0 ||
	    event_add(s->ev_out, NULL) < 0 || event_add(s->ev_pid, NULL) < 0) {
		errno = s->pidfd < 0 ? errno : ENOMEM;
		return -1; /* slot_release kills and reaps it */
	}
	s->state = RUNNING;
	return 0;
}

/* ---- the engine ---- */

struct hs_approvals *hs_approvals_new(struct event_base *base, const struct hs_approval_config *cfg,
				      hs_approval_done_fn done, void *ctx)
{
	struct hs_approvals *a = hs_xcalloc(1, sizeof(*a));
	a->base = base;
	a->cfg = *cfg;
	if (a->cfg.max_pending == 0)
		a->cfg.max_pending = 1;
	a->done = done;
	a->ctx = ctx;
	a->tty = -1;
	a->slots = hs_xcalloc(a->cfg.max_pending, sizeof(*a->slots));
	for (unsigned i = 0; i < a->cfg.max_pending; i++) {
		a->slots[i].owner = a;
		a->slots[i].pidfd = a->slots[i].in = a->slots[i].out = -1;
	}
	if (!cfg->approver && cfg->tty) {
		/* harness's own controlling terminal: the sandbox runs in a
		 * session of its own and cannot open it. */
		a->tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
		if (a->tty >= 0 && !isatty(a->tty))
			hs_close(&a->tty);
		if (a->tty >= 0)
			a->ev_tty = event_new(base, a->tty, EV_READ | EV_PERSIST, on_tty, a);
		if (a->tty >= 0 && !a->ev_tty)
			hs_close(&a->tty);
		struct passwd *pw = getpwuid(getuid());
		if (pw)
			sanitize_name(pw->pw_name, strlen(pw->pw_name), a->user, sizeof(a->user));
		else
			snprintf(a->user, sizeof(a->user), "uid %u", (unsigned)getuid());
	}
	return a;
}

bool hs_approvals_available(const struct hs_approvals *a)
{
	return a && (a->cfg.approver || a->tty >= 0);
}

int hs_approvals_submit(struct hs_approvals *a, const struct hs_approval_request *rq,
			struct hs_approval_decision *now)
{
	memset(now, 0, sizeof(*now));
	if (!hs_approvals_available(a)) {
		snprintf(now->by, sizeof(now->by), "none");
		snprintf(now->why, sizeof(now->why),
			 "nobody to ask: harness has no terminal and no --approver was given");
		return 0;
	}
	struct slot *s = NULL;
	for (unsigned i = 0; i < a->cfg.max_pending && !s; i++)
		if (a->slots[i].state == FREE)
			s = &a->slots[i];
	if (!s) {
		snprintf(now->by, sizeof(now->by), "limit");
		snprintf(now->why, sizeof(now->why),
			 "%u approvals are already waiting (--max-pending-approvals)",
			 a->cfg.max_pending);
		return 0;
	}
	copy_request(&s->rq, rq);
	s->started_ms = now_ms();
	s->timer = evtimer_new(a->base, on_timeout, s);
	struct timeval tv = {.tv_sec = (time_t)(a->cfg.timeout_ms / 1000),
			     .tv_usec = (suseconds_t)(a->cfg.timeout_ms % 1000) * 1000};
	if (!s->timer || evtimer_add(s->timer, &tv) < 0) {
		slot_release(s);
		snprintf(now->by, sizeof(now->by), "none");
		snprintf(now->why, sizeof(now->why), "cannot start the approval timer");
		return 0;
	}
	if (a->cfg.approver) {
		if (approver_start(a, s) < 0) {
			snprintf(now->by, sizeof(now->by), "approver");
			snprintf(now->why, sizeof(now->why), "cannot start the approver: %s",
				 strerror(errno));
			slot_release(s);
			return 0;
		}
		return 1;
	}
	s->state = QUEUED;
	s->queue_no = a->next_queue_no++;
	tty_next(a);
	/* tty_next may have decided it at once (harness in the background):
	 * done() was called, which is still "later" for the caller. */
	return 1;
}

void hs_approvals_free(struct hs_approvals *a)
{
	if (!a)
		return;
	a->closing = true;
	for (unsigned i = 0; i < a->cfg.max_pending; i++)
		if (a->slots[i].state != FREE) {
			if (a->on_tty == &a->slots[i])
				tty_say(a, "\r\nharness: the run ended: denied\r\n");
			finish(a, &a->slots[i], false, "run-ended", "the run ended before a decision");
		}
	if (a->ev_tty)
		event_free(a->ev_tty);
	hs_close(&a->tty);
	free(a->slots);
	free(a);
}
