/* share.c - the fleet through Redis (see share.h, sharemsg.h).
 *
 * Two connections to the master: one for commands (writes, SCAN, PING),
 * one subscribed to PREFIX:events (a subscribed connection can do
 * nothing else).  With DRAC_SHARE_SENTINELS a third, short-lived one asks
 * a Sentinel where the master is before each connect.  All of them run
 * on the one loop through hiredis' asynchronous API (redisloop.c).
 *
 * Writes are Lua scripts so that Redis decides atomically: a grant only
 * lengthens (the later expiry wins) and never outlives a revocation made
 * after it began; a revocation does not undo a grant that began after
 * it.  Both announce only what changed.
 *
 * Consistency after any outage comes from one sequence, run on every
 * connect once the subscription is in place (so nothing announced during
 * it is missed): push the queued operations, push every grant this host
 * holds (idempotent: the later expiry wins, tombstones refuse what was
 * revoked meanwhile), then SCAN the keyspace and apply what is there. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <time.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "mirror.h"
#include "redisloop.h"
#include "share.h"
#include "sharemsg.h"

#define CONNECT_TIMEOUT_MS 3000
#define PING_EVERY_MS 2000
#define PING_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_INFLIGHT 4096
#define SCAN_COUNT "1000"
#define REVOKE_SKEW_MS 60000 /* clock skew allowed between hosts */

/* KEYS: grant key, tombstone key.  ARGV: end ms, window ms, channel,
 * message. */
static const char grant_lua[] =
	"local e = tonumber(ARGV[1])\n"
	"local r = tonumber(redis.call('GET', KEYS[2]))\n"
	"if r and e - tonumber(ARGV[2]) <= r then return 0 end\n"
	"local c = tonumber(redis.call('GET', KEYS[1]))\n"
	"if c and c >= e then return 0 end\n"
	"redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[1])\n"
	"redis.call('PUBLISH', ARGV[3], ARGV[4])\n"
	"return 1\n";
/* KEYS: the same.  ARGV: when ms, window ms, channel, message. */
static const char revoke_lua[] =
	"local c = tonumber(redis.call('GET', KEYS[1]))\n"
	"if c and c - tonumber(ARGV[2]) > tonumber(ARGV[1]) then return 0 end\n"
	"redis.call('DEL', KEYS[1])\n"
	"redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])\n"
	"redis.call('PUBLISH', ARGV[3], ARGV[4])\n"
	"return 1\n";

struct qop {
	uint8_t kind; /* SHARE_GRANT or SHARE_REVOKE */
	struct drac_addr a;
	uint64_t t;
};

struct conn {
	struct share *sh;
	redisAsyncContext *ac;
	bool ready;
};

struct share {
	struct loop *loop;
	struct gate *gate;
	const struct settings *s;
	struct share_endpoint ep;
	struct share_hostport sentinels[SHARE_MAX_SENTINELS];
	int n_sentinels, sentinel_next;
	char master_host[SHARE_HOSTLEN];
	uint16_t master_port;
	char endpoint[PATH_MAX + 32];
	char user[128], pass[512];
	char prefix[SHARE_PREFIX_MAX], channel[SHARE_PREFIX_MAX + 8];
	char host_id[17];
	char window[24];

	struct conn cmd, sub, sent;
	bool started, stopping, synced;
	struct loop_timer *retry, *deadline, *ping;
	uint64_t backoff_ms;
	bool ping_out;
	uint64_t ping_sent_us;

	/* operations made while Redis is away, oldest first */
	struct qop *q;
	size_t q_head, q_count, q_cap, q_max;
	/* this host's grants, pushed at each connect */
	struct qop *sync;
	size_t sync_n, sync_i;
	size_t inflight;

	bool scanning, scan_done;
	char cursor[32];
	size_t scan_pending;
	uint64_t scan_t0, scan_learned;

	char error[256];
	bool error_logged;
	struct share_stats st;
};

static void fail(struct share *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void drain(struct share *sh);
static void begin_connect(struct share *sh);

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- the queue ---------------------------------------------------- */

static void enqueue(struct share *sh, const struct qop *op, bool front)
{
	if (sh->q_count == sh->q_cap) {
		size_t cap = sh->q_cap ? sh->q_cap * 2 : 256;
		struct qop *n;

		if (cap > sh->q_max)
			cap = sh->q_max;
		if (sh->q_count == cap || !(n = malloc(cap * sizeof(*n)))) {
			sh->st.queue_overflow++;
			return;
		}
		for (size_t i = 0; i < sh->q_count; i++)
			n[i] = sh->q[(sh->q_head + i) % sh->q_cap];
		free(sh->q);
		sh->q = n;
		sh->q_head = 0;
		sh->q_cap = cap;
	}
	if (front) {
		sh->q_head = (sh->q_head + sh->q_cap - 1) % sh->q_cap;
		sh->q[sh->q_head] = *op;
	} else {
		sh->q[(sh->q_head + sh->q_count) % sh->q_cap] = *op;
	}
	sh->q_count++;
	if (sh->q_count > sh->st.queued_peak)
		sh->st.queued_peak = sh->q_count;
}

static bool dequeue(struct share *sh, struct qop *op)
{
	if (!sh->q_count)
		return false;
	*op = sh->q[sh->q_head];
	sh->q_head = (sh->q_head + 1) % sh->q_cap;
	sh->q_count--;
	return true;
}

/* ---- errors and reconnection ------------------------------------------ */

static void drop(struct conn *c)
{
	redisAsyncContext *ac = c->ac;

	c->ac = NULL;
	c->ready = false;
	/* Pending callbacks run now with no reply: in-flight writes go
	 * back to the queue (op_done). */
	if (ac)
		redisAsyncFree(ac);
}

static void drop_all(struct share *sh)
{
	if (sh->st.connected)
		sh->st.disconnects++;
	sh->st.connected = sh->st.subscribed = false;
	sh->synced = false;
	sh->scanning = false;
	sh->scan_pending = 0;
	free(sh->sync);
	sh->sync = NULL;
	sh->sync_n = sh->sync_i = 0;
	sh->ping_out = false;
	loop_timer_stop(sh->ping);
	loop_timer_stop(sh->deadline);
	drop(&sh->sent);
	drop(&sh->cmd);
	drop(&sh->sub);
}

/* Give up on this attempt: log (once per streak of the same error),
 * keep granting locally, try again after a growing pause. */
static void fail(struct share *sh, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!sh->error_logged || strcmp(why, sh->error) != 0)
		msg_warn("share: %s: %s; local grants go on, %zu operations queued; retrying", sh->endpoint,
			 why, sh->q_count);
	sh->error_logged = true;
	snprintf(sh->error, sizeof(sh->error), "%s", why);
	drop_all(sh);
	if (sh->stopping)
		return;
	loop_timer_after(sh->retry, sh->backoff_ms);
	sh->backoff_ms = sh->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : sh->backoff_ms * 2;
}

static void on_retry(void *arg)
{
	begin_connect(arg);
}

static void on_deadline(void *arg)
{
	fail(arg, "no connection within %d ms", CONNECT_TIMEOUT_MS);
}

/* An error reply: its text, for the log and drac status. */
static bool is_error(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_ERROR;
}

static void conn_lost(const redisAsyncContext *ac, int status)
{
	struct conn *c = ac->data;

	if (!c || c->ac != ac) /* we dropped it ourselves */
		return;
	c->ac = NULL;
	fail(c->sh, "connection lost (%s)", ac->errstr[0] ? ac->errstr : "closed by Redis");
}

static void ping_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct share *sh = priv;

	if (!r || sh->cmd.ac != ac)
		return;
	sh->ping_out = false;
	sh->st.rtt_us = mono_us() - sh->ping_sent_us;
}

static void on_ping(void *arg)
{
	struct share *sh = arg;

	if (!sh->cmd.ready)
		return;
	if (sh->ping_out) {
		if ((mono_us() - sh->ping_sent_us) / 1000 >= PING_TIMEOUT_MS) {
			fail(sh, "no answer to PING within %d ms", PING_TIMEOUT_MS);
			return;
		}
	} else {
		sh->ping_out = true;
		sh->ping_sent_us = mono_us();
		redisAsyncCommand(sh->cmd.ac, ping_cb, sh, "PING");
	}
	loop_timer_after(sh->ping, 1000);
}

/* ---- writes ----------------------------------------------------------- */

struct inflight {
	struct share *sh;
	struct qop op;
};

static void op_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct inflight *f = priv;
	struct share *sh = f->sh;
	redisReply *r = reply;

	sh->inflight--;
	if (!r) {
		/* The connection went with the write: it goes again. */
		if (!sh->stopping)
			enqueue(sh, &f->op, true);
		free(f);
		return;
	}
	if (is_error(r)) {
		sh->st.push_errors++;
		snprintf(sh->error, sizeof(sh->error), "%s", r->str);
		free(f);
		/* After a failover the old master refuses writes: find the
		 * new one.  A refused command (ACL) is logged once. */
		if (strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "LOADING", 7) == 0) {
			fail(sh, "%s", r->str);
			return;
		}
		if (!sh->error_logged)
			msg_err("share: Redis refused a write: %s", r->str);
		sh->error_logged = true;
	} else {
		if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
			if (f->op.kind == SHARE_GRANT)
				sh->st.pushed++;
			else
				sh->st.revokes_sent++;
		} else {
			sh->st.push_refused++;
		}
		free(f);
	}
	if (sh->cmd.ac == ac)
		drain(sh);
}

static int send_op(struct share *sh, const struct qop *op)
{
	char kg[SHARE_PREFIX_MAX + ADDR_STRLEN + 4], kr[sizeof(kg)], t[24], msg[SHARE_MSG_MAX];
	struct share_msg m = { .kind = op->kind, .addr = op->a, .t_ms = op->t, .sent_ms = wall_now() };
	struct inflight *f = malloc(sizeof(*f));
	const char *argv[9];

	if (!f)
		return -1;
	memcpy(m.host, sh->host_id, sizeof(m.host));
	share_fmt_key(sh->prefix, SHARE_GRANT, &op->a, kg, sizeof(kg));
	share_fmt_key(sh->prefix, SHARE_REVOKE, &op->a, kr, sizeof(kr));
	snprintf(t, sizeof(t), "%llu", (unsigned long long)op->t);
	share_fmt_msg(&m, msg, sizeof(msg));
	argv[0] = "EVAL";
	argv[1] = op->kind == SHARE_GRANT ? grant_lua : revoke_lua;
	argv[2] = "2";
	argv[3] = kg;
	argv[4] = kr;
	argv[5] = t;
	argv[6] = sh->window;
	argv[7] = sh->channel;
	argv[8] = msg;
	f->sh = sh;
	f->op = *op;
	if (redisAsyncCommandArgv(sh->cmd.ac, op_done, f, 9, argv, NULL) != REDIS_OK) {
		free(f);
		return -1;
	}
	sh->inflight++;
	return 0;
}

static void scan_next(struct share *sh);

/* Send what waits, a window at a time: the queue first (in order), then
 * this host's grants; then, once, read the keyspace. */
static void drain(struct share *sh)
{
	struct qop op;

	if (!sh->synced || !sh->cmd.ac)
		return;
	while (sh->inflight < MAX_INFLIGHT) {
		if (dequeue(sh, &op)) {
			if (send_op(sh, &op) < 0) {
				enqueue(sh, &op, true);
				return;
			}
		} else if (sh->sync_i < sh->sync_n) {
			if (send_op(sh, &sh->sync[sh->sync_i]) < 0)
				return;
			sh->sync_i++;
		} else {
			break;
		}
	}
	if (sh->sync && sh->sync_i == sh->sync_n) {
		free(sh->sync);
		sh->sync = NULL;
		sh->sync_n = sh->sync_i = 0;
	}
	if (!sh->scanning && !sh->scan_done && !sh->sync && !sh->q_count) {
		sh->scanning = true;
		sh->scan_t0 = loop_now();
		sh->scan_learned = 0;
		strcpy(sh->cursor, "0");
		scan_next(sh);
	}
}

static void push(struct share *sh, enum share_kind kind, const struct drac_addr *a, uint64_t t)
{
	struct qop op = { .kind = (uint8_t)kind, .a = *a, .t = t };

	addr_unmap(&op.a);
	if (sh->synced && sh->cmd.ac && sh->inflight < MAX_INFLIGHT && !sh->q_count &&
	    send_op(sh, &op) == 0)
		return;
	enqueue(sh, &op, false);
}

static void on_granted(void *arg, const struct drac_addr *a, uint64_t end_ms)
{
	push(arg, SHARE_GRANT, a, end_ms);
}

static void on_revoked(void *arg, const struct drac_addr *a, uint64_t when_ms)
{
	push(arg, SHARE_REVOKE, a, when_ms);
}

static const struct gate_share_ops share_ops = { on_granted, on_revoked };

/* ---- what Redis tells us ---------------------------------------------- */

static void apply_grant(struct share *sh, const struct drac_addr *a, uint64_t end_ms, bool learn)
{
	bool clamped;
	int rc;

	/* No honest host asks for more than a window (give or take clock
	 * skew); a little more is cut to the window by the gate. */
	if (end_ms > wall_now() + sh->s->window_ms + REVOKE_SKEW_MS) {
		sh->st.garbage++;
		return;
	}
	rc = gate_apply_grant(sh->gate, a, end_ms, &clamped);

	if (clamped)
		sh->st.clamped++;
	if (rc > 0) {
		sh->st.applied++;
		if (learn)
			sh->scan_learned++;
	} else if (rc == 0) {
		sh->st.kept++;
	} else {
		sh->st.refused++;
	}
}

static void apply_revoke(struct share *sh, const struct drac_addr *a, uint64_t when_ms)
{
	if (when_ms > wall_now() + REVOKE_SKEW_MS) {
		sh->st.garbage++;
		return;
	}
	if (gate_apply_revoke(sh->gate, a, when_ms) > 0)
		sh->st.revokes_applied++;
}

static void on_message(struct share *sh, const redisReply *payload)
{
	struct share_msg m;
	uint64_t now;

	sh->st.received++;
	if (payload->type != REDIS_REPLY_STRING ||
	    share_parse_msg(payload->str, payload->len, &m) < 0) {
		sh->st.garbage++;
		return;
	}
	if (memcmp(m.host, sh->host_id, 16) == 0) {
		sh->st.own++;
		return;
	}
	now = wall_now();
	sh->st.lag_ms = now > m.sent_ms ? now - m.sent_ms : 0;
	if (sh->st.lag_ms > sh->st.lag_max_ms)
		sh->st.lag_max_ms = sh->st.lag_ms;
	if (m.kind == SHARE_GRANT)
		apply_grant(sh, &m.addr, m.t_ms, false);
	else
		apply_revoke(sh, &m.addr, m.t_ms);
}

/* A grant key is read twice (value and expiry), which must agree. */
struct keyread {
	struct share *sh;
	int kind;
	struct drac_addr a;
	bool have_val, bad;
	uint64_t val;
};

static void scan_maybe_done(struct share *sh)
{
	if (!sh->scanning || sh->scan_pending || strcmp(sh->cursor, "0") != 0)
		return;
	sh->scanning = false;
	sh->scan_done = true;
	sh->st.reconciles++;
	sh->st.reconciled = sh->scan_learned;
	sh->st.reconcile_ms = loop_now() - sh->scan_t0;
	msg_info("share: in step with %s: %llu grants learned, %llu garbage so far, %llu ms",
		 sh->endpoint, (unsigned long long)sh->scan_learned,
		 (unsigned long long)sh->st.garbage, (unsigned long long)sh->st.reconcile_ms);
}

static void get_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct keyread *k = priv;
	struct share *sh = k->sh;
	redisReply *r = reply;

	if (!r || sh->cmd.ac != ac) {
		if (k->kind == SHARE_REVOKE) /* else pexpiretime_cb frees it */
			free(k);
		return;
	}
	if (r->type == REDIS_REPLY_NIL) {
		k->bad = true; /* gone meanwhile (expired, revoked): not garbage */
		k->val = 0;
	} else if (r->type != REDIS_REPLY_STRING || share_parse_ms(r->str, r->len, &k->val) < 0) {
		k->bad = true;
		k->val = 1; /* marks garbage */
	}
	k->have_val = true;
	if (k->kind == SHARE_REVOKE) {
		if (!k->bad)
			apply_revoke(sh, &k->a, k->val);
		else if (k->val)
			sh->st.garbage++;
		free(k);
		sh->scan_pending--;
		scan_maybe_done(sh);
	}
}

static void pexpiretime_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct keyread *k = priv;
	struct share *sh = k->sh;
	redisReply *r = reply;

	if (!r || sh->cmd.ac != ac) {
		free(k);
		return;
	}
	sh->scan_pending--;
	if (k->bad) {
		if (k->val)
			sh->st.garbage++;
	} else if (r->type == REDIS_REPLY_INTEGER && r->integer == -2) {
		/* expired between the two reads */
	} else if (r->type != REDIS_REPLY_INTEGER || r->integer != (long long)k->val) {
		/* no time-to-live, or one that is not the value: not ours */
		sh->st.garbage++;
	} else {
		apply_grant(sh, &k->a, k->val, true);
	}
	free(k);
	scan_maybe_done(sh);
}

static void scan_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct share *sh = priv;
	redisReply *r = reply, *keys;

	if (!r || sh->cmd.ac != ac)
		return;
	if (is_error(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(sh->cursor) ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		fail(sh, "SCAN: %s", is_error(r) ? r->str : "unexpected reply");
		return;
	}
	memcpy(sh->cursor, r->element[0]->str, r->element[0]->len);
	sh->cursor[r->element[0]->len] = 0;
	keys = r->element[1];
	for (size_t i = 0; i < keys->elements; i++) {
		redisReply *k = keys->element[i];
		struct keyread *kr;
		struct drac_addr a;
		int kind;

		if (k->type != REDIS_REPLY_STRING ||
		    (kind = share_parse_key(sh->prefix, k->str, k->len, &a)) < 0) {
			sh->st.garbage++;
			continue;
		}
		if (!(kr = calloc(1, sizeof(*kr))))
			continue;
		kr->sh = sh;
		kr->kind = kind;
		kr->a = a;
		sh->scan_pending++;
		redisAsyncCommand(ac, get_cb, kr, "GET %b", k->str, k->len);
		if (kind == SHARE_GRANT)
			redisAsyncCommand(ac, pexpiretime_cb, kr, "PEXPIRETIME %b", k->str, k->len);
	}
	if (strcmp(sh->cursor, "0") != 0)
		scan_next(sh);
	else
		scan_maybe_done(sh);
}

static void scan_next(struct share *sh)
{
	redisAsyncCommand(sh->cmd.ac, scan_cb, sh, "SCAN %s MATCH %s:* COUNT " SCAN_COUNT, sh->cursor,
			  sh->prefix);
}

static void collect_grant(const struct drac_addr *a, uint64_t end_ms, void *arg)
{
	struct share *sh = arg;

	sh->sync[sh->sync_n].kind = SHARE_GRANT;
	sh->sync[sh->sync_n].a = *a;
	sh->sync[sh->sync_n].t = end_ms;
	sh->sync_n++;
}

/* Both connections are up: catch up in both directions. */
static void maybe_synced(struct share *sh)
{
	struct mirror *m = gate_mirror(sh->gate);
	size_t n = m ? mirror_count(m) : 0;

	if (sh->synced || !sh->cmd.ready || !sh->st.subscribed)
		return;
	sh->synced = true;
	sh->scan_done = false;
	sh->st.connected = true;
	sh->st.connects++;
	sh->backoff_ms = BACKOFF_MIN_MS;
	sh->error[0] = 0;
	sh->error_logged = false;
	loop_timer_stop(sh->deadline);
	msg_info("share: connected to %s as host %s: pushing %zu queued operations and %zu grants",
		 sh->endpoint, sh->host_id, sh->q_count, n);
	free(sh->sync);
	sh->sync_n = sh->sync_i = 0;
	sh->sync = n ? malloc(n * sizeof(*sh->sync)) : NULL;
	if (sh->sync)
		mirror_foreach(m, collect_grant, sh);
	loop_timer_after(sh->ping, PING_EVERY_MS);
	drain(sh);
}

/* ---- connecting -------------------------------------------------------- */

static void sub_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct share *sh = priv;
	redisReply *r = reply;

	if (!r || sh->sub.ac != ac)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		sh->st.garbage++;
		return;
	}
	if (strcmp(r->element[0]->str, "subscribe") == 0) {
		sh->st.subscribed = true;
		maybe_synced(sh);
	} else if (strcmp(r->element[0]->str, "message") == 0) {
		on_message(sh, r->element[2]);
	}
}

static void auth_failed(struct share *sh, const char *what, const redisReply *r)
{
	if (r && is_error(r) && (strstr(r->str, "WRONGPASS") || strstr(r->str, "NOAUTH") ||
				 strstr(r->str, "invalid") || strstr(r->str, "NOPERM")))
		sh->st.auth_failures++;
	fail(sh, "%s: %s", what, r ? (is_error(r) ? r->str : "unexpected reply") : "no reply");
}

static void role_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct share *sh = priv;
	redisReply *r = reply;

	if (!r || sh->cmd.ac != ac)
		return;
	/* ROLE's first element is "master" only on the master. */
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "master") != 0) {
		fail(sh, "%s:%u is not the master (ROLE: %s)", sh->master_host, sh->master_port,
		     is_error(r) ? r->str : "replica");
		return;
	}
	sh->cmd.ready = true;
	maybe_synced(sh);
}

static void select_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct share *sh = priv;
	redisReply *r = reply;

	if (!r || sh->cmd.ac != ac)
		return;
	if (is_error(r)) {
		auth_failed(sh, "SELECT", r);
		return;
	}
	if (sh->n_sentinels) {
		redisAsyncCommand(ac, role_cb, sh, "ROLE");
		return;
	}
	sh->cmd.ready = true;
	maybe_synced(sh);
}

static void auth_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conn *c = priv;
	struct share *sh = c->sh;
	redisReply *r = reply;

	if (!r || c->ac != ac)
		return;
	if (is_error(r)) {
		auth_failed(sh, "AUTH", r);
		return;
	}
	if (c == &sh->cmd)
		redisAsyncCommand(ac, select_cb, sh, "SELECT %u", sh->ep.db);
	else
		redisAsyncCommand(ac, sub_cb, sh, "SUBSCRIBE %s", sh->channel);
}

static void conn_up(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct conn *c = ac->data;
	struct share *sh;

	if (!c || c->ac != ac)
		return;
	sh = c->sh;
	if (status != REDIS_OK) {
		c->ac = NULL; /* hiredis frees it */
		fail(sh, "cannot connect: %s", ac->errstr);
		return;
	}
	if (!sh->ep.is_unix || sh->n_sentinels) {
		/* A host gone without a word is noticed by the PING (command
		 * side) and by TCP keepalive (subscribed side). */
		int on = 1, idle = 10, intvl = 3, cnt = 3;

		setsockopt(ac->c.fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
		setsockopt(ac->c.fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		setsockopt(ac->c.fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		setsockopt(ac->c.fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	}
	if (*sh->pass) {
		if (*sh->user)
			redisAsyncCommand(ac, auth_cb, c, "AUTH %s %s", sh->user, sh->pass);
		else
			redisAsyncCommand(ac, auth_cb, c, "AUTH %s", sh->pass);
		return;
	}
	/* No credentials: straight on (AUTH's callback does the rest). */
	if (c == &sh->cmd)
		redisAsyncCommand(ac, select_cb, sh, "SELECT %u", sh->ep.db);
	else
		redisAsyncCommand(ac, sub_cb, sh, "SUBSCRIBE %s", sh->channel);
}

static int open_conn(struct share *sh, struct conn *c, const char *host, uint16_t port, bool unix_path)
{
	redisAsyncContext *ac = unix_path ? redisAsyncConnectUnix(host) : redisAsyncConnect(host, port);

	if (!ac || ac->err) {
		fail(sh, "cannot connect: %s", ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		return -1;
	}
	if (redisloop_attach(sh->loop, ac) < 0) {
		redisAsyncFree(ac);
		fail(sh, "out of memory");
		return -1;
	}
	c->sh = sh;
	c->ac = ac;
	c->ready = false;
	ac->data = c;
	redisAsyncSetDisconnectCallback(ac, conn_lost);
	redisAsyncSetConnectCallback(ac, conn_up);
	return 0;
}

static void connect_master(struct share *sh)
{
	if (sh->ep.is_unix && !sh->n_sentinels) {
		if (open_conn(sh, &sh->cmd, sh->ep.path, 0, true) == 0)
			open_conn(sh, &sh->sub, sh->ep.path, 0, true);
		return;
	}
	if (open_conn(sh, &sh->cmd, sh->master_host, sh->master_port, false) == 0)
		open_conn(sh, &sh->sub, sh->master_host, sh->master_port, false);
}

static void sentinel_try_next(struct share *sh);

static void sentinel_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct share *sh = priv;
	redisReply *r = reply;
	struct drac_addr a;
	uint16_t port = 0;
	char *end;
	unsigned long p;

	if (!r || sh->sent.ac != ac)
		return;
	/* The answer names the master: an address (a name would have to be
	 * resolved, which blocks) and a port. */
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len >= sizeof(sh->master_host) ||
	    addr_parse(r->element[0]->str, &a) < 0 ||
	    (p = strtoul(r->element[1]->str, &end, 10), *end || p == 0 || p > 65535)) {
		msg_warn("share: sentinel %s:%u has no usable answer for master %s%s%s",
			 sh->sentinels[(sh->sentinel_next + sh->n_sentinels - 1) % sh->n_sentinels].host,
			 sh->sentinels[(sh->sentinel_next + sh->n_sentinels - 1) % sh->n_sentinels].port,
			 sh->s->share_master, is_error(r) ? ": " : "", is_error(r) ? r->str : "");
		drop(&sh->sent);
		sentinel_try_next(sh);
		return;
	}
	port = (uint16_t)p;
	memcpy(sh->master_host, r->element[0]->str, r->element[0]->len + 1);
	sh->master_port = port;
	drop(&sh->sent);
	connect_master(sh);
}

static void sentinel_up(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct conn *c = ac->data;
	struct share *sh;

	if (!c || c->ac != ac)
		return;
	sh = c->sh;
	if (status != REDIS_OK) {
		c->ac = NULL;
		sentinel_try_next(sh);
		return;
	}
	redisAsyncCommand(ac, sentinel_cb, sh, "SENTINEL get-master-addr-by-name %s",
			  sh->s->share_master);
}

static void sentinel_lost(const redisAsyncContext *ac, int status)
{
	struct conn *c = ac->data;

	if (!c || c->ac != ac)
		return;
	c->ac = NULL;
	sentinel_try_next(c->sh);
}

/* Ask the sentinels in turn; one round without an answer is a failure. */
static void sentinel_try_next(struct share *sh)
{
	struct share_hostport *hp;
	redisAsyncContext *ac;

	if (sh->sentinel_next >= sh->n_sentinels) {
		sh->sentinel_next = 0;
		fail(sh, "no sentinel knows master %s", sh->s->share_master);
		return;
	}
	hp = &sh->sentinels[sh->sentinel_next++];
	ac = redisAsyncConnect(hp->host, hp->port);
	if (!ac || ac->err || redisloop_attach(sh->loop, ac) < 0) {
		if (ac)
			redisAsyncFree(ac);
		sentinel_try_next(sh);
		return;
	}
	sh->sent.sh = sh;
	sh->sent.ac = ac;
	ac->data = &sh->sent;
	redisAsyncSetDisconnectCallback(ac, sentinel_lost);
	redisAsyncSetConnectCallback(ac, sentinel_up);
}

static void begin_connect(struct share *sh)
{
	if (sh->stopping)
		return;
	drop_all(sh);
	loop_timer_after(sh->deadline, CONNECT_TIMEOUT_MS);
	if (sh->n_sentinels) {
		sh->sentinel_next = 0;
		sentinel_try_next(sh);
	} else {
		connect_master(sh);
	}
}

/* ---- set-up ------------------------------------------------------------ */

/* The credentials file: root's or the daemon group's to read, no one
 * else's, and never on a command line. */
static int read_auth(struct share *sh, const char *path)
{
	char line[700], err[128];
	struct stat st;
	FILE *f;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		msg_err("DRAC_SHARE_AUTH: cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0027)) {
		msg_err("DRAC_SHARE_AUTH: %s must be a regular file that others cannot read "
			"nor the group write (chmod 0640 or 0600)", path);
		close(fd);
		return -1;
	}
	f = fdopen(fd, "r");
	if (!f || !fgets(line, sizeof(line), f) ||
	    share_parse_auth(line, sh->user, sizeof(sh->user), sh->pass, sizeof(sh->pass), err,
			     sizeof(err)) < 0) {
		msg_err("DRAC_SHARE_AUTH: %s:1: %s", path, f ? (*line ? err : "empty") : strerror(errno));
		if (f)
			fclose(f);
		else
			close(fd);
		return -1;
	}
	fclose(f);
	explicit_bzero(line, sizeof(line));
	return 0;
}

/* A name becomes an address here, once: resolving in the loop would
 * block it. */
static int resolve(char *host, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	struct drac_addr a;
	char buf[ADDR_STRLEN];
	int rc;

	if (addr_parse(host, &a) == 0)
		return 0;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		msg_err("DRAC_SHARE: cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	if (res->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, buf, sizeof(buf));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, buf, sizeof(buf));
	freeaddrinfo(res);
	snprintf(host, len, "%s", buf);
	return 0;
}

struct share *share_new(struct loop *l, struct gate *g, const struct settings *s)
{
	struct share *sh = calloc(1, sizeof(*sh));
	char err[256];
	uint64_t id;

	if (!sh)
		return NULL;
	sh->loop = l;
	sh->gate = g;
	sh->s = s;
	sh->q_max = s->share_queue;
	sh->backoff_ms = BACKOFF_MIN_MS;
	if (share_parse_endpoint(s->share, &sh->ep, err, sizeof(err)) != 0 ||
	    (sh->n_sentinels = share_parse_sentinels(s->share_sentinels, sh->sentinels, err,
						     sizeof(err))) < 0) {
		msg_err("DRAC_SHARE: %s", err);
		goto bad;
	}
	snprintf(sh->prefix, sizeof(sh->prefix), "%s", s->share_prefix);
	snprintf(sh->channel, sizeof(sh->channel), "%s:events", s->share_prefix);
	snprintf(sh->window, sizeof(sh->window), "%llu", (unsigned long long)s->window_ms);
	if (sh->n_sentinels)
		snprintf(sh->endpoint, sizeof(sh->endpoint), "sentinel master %s", s->share_master);
	else
		snprintf(sh->endpoint, sizeof(sh->endpoint), "%s", s->share);
	for (int i = 0; i < sh->n_sentinels; i++)
		if (resolve(sh->sentinels[i].host, sizeof(sh->sentinels[i].host)) < 0)
			goto bad;
	if (!sh->ep.is_unix) {
		if (resolve(sh->ep.hp.host, sizeof(sh->ep.hp.host)) < 0)
			goto bad;
		snprintf(sh->master_host, sizeof(sh->master_host), "%s", sh->ep.hp.host);
		sh->master_port = sh->ep.hp.port;
	}
	if (*s->share_auth && read_auth(sh, s->share_auth) < 0)
		goto bad;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id)) {
		msg_err("share: getrandom: %s", strerror(errno));
		goto bad;
	}
	snprintf(sh->host_id, sizeof(sh->host_id), "%016llx", (unsigned long long)id);
	sh->cmd.sh = sh->sub.sh = sh->sent.sh = sh;
	sh->retry = loop_timer_new(l, on_retry, sh);
	sh->deadline = loop_timer_new(l, on_deadline, sh);
	sh->ping = loop_timer_new(l, on_ping, sh);
	if (!sh->retry || !sh->deadline || !sh->ping)
		goto bad;
	gate_set_share(g, &share_ops, sh);
	return sh;
bad:
	share_free(sh);
	return NULL;
}

void share_start(struct share *sh)
{
	sh->started = true;
	begin_connect(sh);
}

void share_free(struct share *sh)
{
	if (!sh)
		return;
	sh->stopping = true;
	if (sh->gate)
		gate_set_share(sh->gate, NULL, NULL);
	drop_all(sh);
	loop_timer_free(sh->retry);
	loop_timer_free(sh->deadline);
	loop_timer_free(sh->ping);
	explicit_bzero(sh->pass, sizeof(sh->pass));
	free(sh->q);
	free(sh->sync);
	free(sh);
}

const struct share_stats *share_stats(const struct share *sh)
{
	return &sh->st;
}

size_t share_queued(const struct share *sh)
{
	return sh->q_count;
}

const char *share_endpoint(const struct share *sh)
{
	return sh->endpoint;
}

const char *share_error(const struct share *sh)
{
	return sh->error;
}
