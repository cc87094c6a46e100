/* share.c - the fleet through Redis (see share.h, sharemsg.h).
 *
 * Two connections to the master: one for commands (writes, SCAN, PING),
 * one subscribed to PREFIX:events (a subscribed connection can do
 * nothing else).  With DRAC_SHARE_SENTINELS a third, short-lived one asks
 * a Sentinel where the master is before each connect.  All of them run
 * on the one loop (rconn.c: hiredis' parser, our socket and limits).
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
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mirror.h"
#include "rconn.h"
#include "share.h"
#include "sharemsg.h"

#define CONNECT_TIMEOUT_MS 3000
#define PING_EVERY_MS 2000
#define PING_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_INFLIGHT 16384	 /* operations written and not yet answered */
#define BATCH 128		 /* operations per script call and message */
#define SCAN_COUNT "1000"
#define FUTURE_MS 60000	 /* how far ahead of the window a value may be */
#define SCAN_LIMIT_MS 10000	 /* a reconcile that never ends is a fault */
#define SENTINEL_TIMEOUT_MS 1000

/* One script writes a batch of operations: KEYS are the grant and
 * tombstone keys of each (2 per operation); ARGV[1] the window in ms,
 * ARGV[2] the channel, then per operation its kind (G or R), its time
 * (a grant's end, a revocation's moment) and its message line.  A grant
 * only lengthens a key and is refused when a revocation came after it
 * began; a revocation leaves a grant that began after it.  What changed
 * is announced in one message, a line per operation; the reply says,
 * per operation, 1 written, 0 refused (a grant no later than the one
 * stored, a revocation older than the grant), or for a grant refused
 * by a revocation minus that revocation's time, so that the host that
 * made the grant follows Redis' verdict. */
static const char batch_lua[] =
	"local w = tonumber(ARGV[1])\n"
	"local out, res = {}, {}\n"
	"for i = 1, #KEYS / 2 do\n"
	"  local g, r, a = KEYS[2*i-1], KEYS[2*i], 3*i\n"
	"  local t, ok = tonumber(ARGV[a+1]), 0\n"
	"  local c = tonumber(redis.call('GET', g))\n"
	"  if ARGV[a] == 'G' then\n"
	"    local rv = tonumber(redis.call('GET', r))\n"
	"    if rv and t - w <= rv then ok = -rv\n"
	"    elseif not (c and c >= t) then\n"
	"      redis.call('SET', g, ARGV[a+1], 'PXAT', ARGV[a+1]); ok = 1\n"
	"    end\n"
	"  elseif not (c and c - w > t) then\n"
	"    redis.call('DEL', g); redis.call('SET', r, ARGV[a+1], 'PX', ARGV[1]); ok = 1\n"
	"  end\n"
	"  if ok == 1 then out[#out+1] = ARGV[a+2] end\n"
	"  res[i] = ok\n"
	"end\n"
	"if #out > 0 then redis.call('PUBLISH', ARGV[2], table.concat(out, '\\n')) end\n"
	"return res\n";

struct qop {
	uint8_t kind; /* SHARE_GRANT or SHARE_REVOKE */
	struct drac_addr a;
	uint64_t t;
};

enum phase { IDLE, SENTINEL, CONNECTING, SYNCING, SCANNING, STEADY };

struct share {
	struct loop *loop;
	struct gate *gate;
	const struct settings *s;
	struct share_endpoint ep;
	struct share_hostport sentinels[SHARE_MAX_SENTINELS];
	int n_sentinels, sentinel_next, sentinel_tries;
	char master_host[SHARE_HOSTLEN];
	uint16_t master_port;
	char endpoint[PATH_MAX + 32];
	char user[128], pass[512];
	char prefix[SHARE_PREFIX_MAX], channel[SHARE_PREFIX_MAX + 8];
	char host_id[17];
	char window[24];

	struct rconn *cmd, *sub, *sent;
	bool cmd_ready;
	enum phase phase;
	bool stopping;
	struct loop_timer *retry, *deadline, *ping;
	uint64_t backoff_ms;
	uint64_t ping_sent_us, sub_pong_ms;
	bool ping_out;

	/* Operations waiting for Redis, oldest first.  Grants wait only
	 * while connected (behind MAX_INFLIGHT); when Redis goes away, or
	 * room is needed for a revocation, they are dropped and the whole
	 * local table is pushed again instead (regrant). */
	struct qop *q;
	size_t q_head, q_count, q_cap, q_max;
	bool regrant;
	/* operations of this loop turn, written when it ends */
	struct qop stage[BATCH];
	size_t stage_n;
	/* this host's grants, being pushed */
	struct qop *sync;
	size_t sync_n, sync_i;
	size_t inflight;

	char cursor[32];
	size_t scan_pending;
	uint64_t scan_t0, scan_learned;

	char error[256];
	bool error_logged, overflow_logged;
	struct share_stats st;
};

static void fail(struct share *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void drain(struct share *sh);
static void begin_connect(struct share *sh);
static void apply_revoke(struct share *sh, const struct drac_addr *a, uint64_t when_ms);

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A command of plain strings. */
static int call(struct rconn *c, rconn_reply_fn fn, void *priv, int argc, ...)
{
	const char *argv[8];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc && i < 8; i++)
		argv[i] = va_arg(ap, const char *);
	va_end(ap);
	return fn ? rconn_command(c, fn, priv, argc, argv, NULL) : rconn_send(c, argc, argv, NULL);
}

static bool is_error(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_ERROR;
}

/* ---- the queue ---------------------------------------------------- */

/* Keep only the revocations (grants come back with the regrant). */
static void drop_queued_grants(struct share *sh)
{
	size_t n = 0;

	for (size_t i = 0; i < sh->q_count; i++) {
		struct qop op = sh->q[(sh->q_head + i) % sh->q_cap];

		if (op.kind == SHARE_REVOKE)
			sh->q[(sh->q_head + n++) % sh->q_cap] = op;
		else
			sh->regrant = true;
	}
	sh->q_count = n;
}

static void enqueue(struct share *sh, const struct qop *op, bool front)
{
	if (sh->q_count == sh->q_cap) {
		size_t cap = sh->q_cap ? sh->q_cap * 2 : 256;
		struct qop *n = NULL;

		if (cap > sh->q_max)
			cap = sh->q_max;
		if (sh->q_count < cap && (n = malloc(cap * sizeof(*n)))) {
			for (size_t i = 0; i < sh->q_count; i++)
				n[i] = sh->q[(sh->q_head + i) % sh->q_cap];
			free(sh->q);
			sh->q = n;
			sh->q_head = 0;
			sh->q_cap = cap;
		}
	}
	if (sh->q_count == sh->q_cap) {
		/* Full: a grant can wait for the regrant; a revocation
		 * takes the room of the grants. */
		if (op->kind == SHARE_GRANT) {
			sh->regrant = true;
			return;
		}
		drop_queued_grants(sh);
		if (sh->q_count == sh->q_cap) {
			sh->st.queue_overflow++;
			if (!sh->overflow_logged)
				msg_err("share: more than %zu revocations wait for Redis: the ones "
					"over that are lost to the other hosts (DRAC_SHARE_QUEUE)",
					sh->q_max);
			sh->overflow_logged = true;
			return;
		}
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

static void drop_all(struct share *sh)
{
	struct rconn *cmd = sh->cmd, *sub = sh->sub, *sent = sh->sent;

	if (sh->st.connected)
		sh->st.disconnects++;
	sh->st.connected = sh->st.subscribed = false;
	sh->cmd_ready = false;
	sh->phase = IDLE;
	sh->scan_pending = 0;
	free(sh->sync);
	sh->sync = NULL;
	sh->sync_n = sh->sync_i = 0;
	sh->ping_out = false;
	loop_timer_stop(sh->ping);
	loop_timer_stop(sh->deadline);
	/* Pointers first: the closes run the pending callbacks, which
	 * must see that these connections are gone (in-flight writes go
	 * back to the queue: op_done). */
	sh->cmd = sh->sub = sh->sent = NULL;
	rconn_close(sent);
	rconn_close(cmd);
	rconn_close(sub);
	drop_queued_grants(sh);
}

/* Give up on this attempt: log (once per streak of the same error),
 * keep granting locally, try again after a growing pause.  The pause
 * shrinks back only after a whole reconcile went through, so a server
 * that accepts and then refuses (a replica, a wrong password) is not
 * hammered. */
static void fail(struct share *sh, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!sh->error_logged || strcmp(why, sh->error) != 0)
		msg_warn("share: %s: %s; local grants go on, %zu revocations queued; retrying",
			 sh->endpoint, why, sh->q_count);
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

static void sentinel_try_next(struct share *sh);

static void on_deadline(void *arg)
{
	struct share *sh = arg;

	if (sh->phase == SENTINEL) {
		/* This one hangs: the next may answer. */
		rconn_close(sh->sent);
		sh->sent = NULL;
		sentinel_try_next(sh);
		return;
	}
	if (sh->phase == SCANNING)
		fail(sh, "reconcile not done within %d ms", SCAN_LIMIT_MS);
	else
		fail(sh, "no connection within %d ms", CONNECT_TIMEOUT_MS);
}

static void conn_event(struct rconn *c, const char *why, void *arg);

static void ping_cb(struct rconn *c, const redisReply *r, void *priv)
{
	struct share *sh = priv;

	if (!r || c != sh->cmd)
		return;
	sh->ping_out = false;
	sh->st.rtt_us = mono_us() - sh->ping_sent_us;
}

/* Both connections must answer: the command side its PING, the
 * subscribed side a PING whose ["pong", ""] comes as a push. */
static void on_ping(void *arg)
{
	struct share *sh = arg;
	uint64_t now = loop_now();

	if (!sh->cmd || !sh->sub || sh->phase < SYNCING)
		return;
	if (sh->ping_out && (mono_us() - sh->ping_sent_us) / 1000 >= PING_TIMEOUT_MS) {
		fail(sh, "no answer to PING within %d ms", PING_TIMEOUT_MS);
		return;
	}
	if (now - sh->sub_pong_ms >= PING_TIMEOUT_MS + PING_EVERY_MS) {
		fail(sh, "the subscribed connection stopped answering");
		return;
	}
	if (!sh->ping_out) {
		sh->ping_out = true;
		sh->ping_sent_us = mono_us();
		call(sh->cmd, ping_cb, sh, 1, "PING");
	}
	call(sh->sub, NULL, NULL, 1, "PING");
	loop_timer_after(sh->ping, PING_EVERY_MS);
}

/* ---- writes ----------------------------------------------------------- */

struct inflight {
	struct share *sh;
	size_t n;
	struct qop op[];
};

/* An operation that got no answer: a revocation goes again, a grant
 * comes back with the regrant of the whole table. */
static void retry_op(struct share *sh, const struct qop *op)
{
	if (op->kind == SHARE_REVOKE && !sh->stopping)
		enqueue(sh, op, true);
	else
		sh->regrant = true;
}

static void batch_done(struct rconn *c, const redisReply *r, void *priv)
{
	struct inflight *f = priv;
	struct share *sh = f->sh;

	sh->inflight -= f->n;
	if (!r || is_error(r) || r->type != REDIS_REPLY_ARRAY || r->elements != f->n) {
		/* Nothing of it is known to be written (a script stopped by
		 * an error keeps what it did before, which the retry repeats
		 * harmlessly): revocations go again, grants come back with
		 * the table.  A refusal (OOM, ACL, a demoted master) is the
		 * server's word: logged once per streak, and the connection
		 * is made again after the back-off, so nothing hammers. */
		for (size_t i = f->n; i-- > 0;)
			retry_op(sh, &f->op[i]);
		if (r) {
			sh->st.push_errors += f->n;
			fail(sh, "a write: %s", is_error(r) ? r->str : "unexpected reply");
		}
		free(f);
		return;
	}
	for (size_t i = 0; i < f->n; i++) {
		const redisReply *e = r->element[i];

		if (e->type != REDIS_REPLY_INTEGER) {
			sh->st.push_refused++;
		} else if (e->integer == 1) {
			if (f->op[i].kind == SHARE_GRANT)
				sh->st.pushed++;
			else
				sh->st.revokes_sent++;
		} else {
			sh->st.push_refused++;
			/* Revoked in the fleet since it began: so here too. */
			if (e->integer < 0 && f->op[i].kind == SHARE_GRANT)
				apply_revoke(sh, &f->op[i].a, (uint64_t)-e->integer);
		}
	}
	free(f);
	if (c == sh->cmd)
		drain(sh);
}

/* One script call for n operations.  0, or -1 (nothing sent). */
static int send_batch(struct share *sh, const struct qop *ops, size_t n)
{
	enum { KEYLEN = SHARE_PREFIX_MAX + ADDR_STRLEN + 4 };
	const char *argv[5 + 5 * BATCH]; /* EVAL, script, n, 2 keys per op, window, channel, 3 per op */
	char keys[2 * BATCH][KEYLEN], times[BATCH][24], lines[BATCH][SHARE_MSG_MAX], nkeys[8];
	struct inflight *f = malloc(sizeof(*f) + n * sizeof(struct qop));
	uint64_t now = wall_now();
	int argc = 0;

	if (!f || n == 0 || n > BATCH) {
		free(f);
		return -1;
	}
	snprintf(nkeys, sizeof(nkeys), "%zu", 2 * n);
	argv[argc++] = "EVAL";
	argv[argc++] = batch_lua;
	argv[argc++] = nkeys;
	for (size_t i = 0; i < n; i++) {
		share_fmt_key(sh->prefix, SHARE_GRANT, &ops[i].a, keys[2 * i], KEYLEN);
		share_fmt_key(sh->prefix, SHARE_REVOKE, &ops[i].a, keys[2 * i + 1], KEYLEN);
		argv[argc++] = keys[2 * i];
		argv[argc++] = keys[2 * i + 1];
	}
	argv[argc++] = sh->window;
	argv[argc++] = sh->channel;
	for (size_t i = 0; i < n; i++) {
		struct share_msg m = { .kind = ops[i].kind, .addr = ops[i].a, .t_ms = ops[i].t,
				       .sent_ms = now };

		memcpy(m.host, sh->host_id, sizeof(m.host));
		snprintf(times[i], sizeof(times[i]), "%llu", (unsigned long long)ops[i].t);
		share_fmt_msg(&m, lines[i], sizeof(lines[i]));
		argv[argc++] = ops[i].kind == SHARE_GRANT ? "G" : "R";
		argv[argc++] = times[i];
		argv[argc++] = lines[i];
	}
	f->sh = sh;
	f->n = n;
	memcpy(f->op, ops, n * sizeof(*ops));
	if (rconn_command(sh->cmd, batch_done, f, argc, argv, NULL) < 0) {
		free(f);
		return -1;
	}
	sh->inflight += n;
	return 0;
}

static void collect_grant(const struct drac_addr *a, uint64_t end_ms, void *arg)
{
	struct share *sh = arg;

	sh->sync[sh->sync_n].kind = SHARE_GRANT;
	sh->sync[sh->sync_n].a = *a;
	sh->sync[sh->sync_n].t = end_ms;
	sh->sync_n++;
}

/* Every grant this host holds, to be pushed (the later expiry wins in
 * Redis, and tombstones refuse what was revoked meanwhile). */
static void snapshot_grants(struct share *sh)
{
	struct mirror *m = gate_mirror(sh->gate);
	size_t n = m ? mirror_count(m) : 0;

	sh->regrant = false;
	free(sh->sync);
	sh->sync_n = sh->sync_i = 0;
	sh->sync = n ? malloc(n * sizeof(*sh->sync)) : NULL;
	if (sh->sync)
		mirror_foreach(m, collect_grant, sh);
	else if (n)
		sh->regrant = true; /* out of memory: later */
}

static void scan_next(struct share *sh);

/* Send what waits, a window at a time: the queue first (in order), then
 * this host's grants; then, once per connection, read the keyspace. */
static void drain(struct share *sh)
{
	struct qop ops[BATCH];
	size_t n;

	if (sh->phase < SYNCING || !sh->cmd)
		return;
	while (sh->inflight < MAX_INFLIGHT) {
		for (n = 0; n < BATCH && dequeue(sh, &ops[n]); n++)
			;
		while (n < BATCH && sh->sync_i < sh->sync_n)
			ops[n++] = sh->sync[sh->sync_i++];
		if (n == 0 && sh->regrant) {
			snapshot_grants(sh);
			if (sh->sync_n)
				continue;
		}
		if (n == 0)
			break;
		if (send_batch(sh, ops, n) < 0) {
			while (n-- > 0)
				retry_op(sh, &ops[n]);
			return;
		}
	}
	if (sh->sync && sh->sync_i == sh->sync_n) {
		free(sh->sync);
		sh->sync = NULL;
		sh->sync_n = sh->sync_i = 0;
	}
	if (sh->phase == SYNCING && !sh->sync && !sh->q_count && !sh->regrant) {
		sh->phase = SCANNING;
		sh->scan_t0 = loop_now();
		sh->scan_learned = 0;
		strcpy(sh->cursor, "0");
		loop_timer_after(sh->deadline, SCAN_LIMIT_MS);
		scan_next(sh);
	}
}

/* The operations of one loop turn go out together when it ends (one
 * script call and one message per BATCH), or wait in the queue while
 * too many are unanswered. */
static void flush_stage(struct share *sh)
{
	size_t n = sh->stage_n;

	sh->stage_n = 0;
	if (!n)
		return;
	if (sh->phase >= SYNCING && sh->inflight < MAX_INFLIGHT && !sh->q_count &&
	    send_batch(sh, sh->stage, n) == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (sh->phase < SYNCING && sh->stage[i].kind == SHARE_GRANT)
			sh->regrant = true; /* went away this turn */
		else
			enqueue(sh, &sh->stage[i], false);
	}
	drain(sh);
}

static void share_idle(void *arg)
{
	flush_stage(arg);
}

static void push(struct share *sh, enum share_kind kind, const struct drac_addr *a, uint64_t t)
{
	struct qop op = { .kind = (uint8_t)kind, .a = *a, .t = t };

	addr_unmap(&op.a);
	if (sh->phase < SYNCING) {
		/* Away: revocations wait; grants are in the table, which
		 * goes to Redis at the next connect. */
		if (kind == SHARE_REVOKE)
			enqueue(sh, &op, false);
		return;
	}
	if (sh->stage_n == BATCH)
		flush_stage(sh);
	sh->stage[sh->stage_n++] = op;
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
	if (end_ms > wall_now() + sh->s->window_ms + FUTURE_MS) {
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
	if (when_ms > wall_now() + FUTURE_MS) {
		sh->st.garbage++;
		return;
	}
	if (gate_apply_revoke(sh->gate, a, when_ms) > 0)
		sh->st.revokes_applied++;
}

/* One line of a message: a grant or a revocation. */
static void on_record(struct share *sh, const char *line, size_t len)
{
	struct share_msg m;
	uint64_t now;

	sh->st.received++;
	if (share_parse_msg(line, len, &m) < 0) {
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

/* A message holds the lines of one batch. */
static void on_message(struct share *sh, const redisReply *payload)
{
	const char *p, *end, *nl;

	if (payload->type != REDIS_REPLY_STRING || payload->len == 0) {
		sh->st.received++;
		sh->st.garbage++;
		return;
	}
	for (p = payload->str, end = p + payload->len; p <= end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		on_record(sh, p, (size_t)(nl - p));
	}
}

/* An error reply where data was expected: the server's word, logged
 * once, in drac status; not garbage (nothing was read). */
static void read_error(struct share *sh, const redisReply *r)
{
	sh->st.read_errors++;
	if (!sh->error_logged)
		msg_err("share: Redis refused a read: %s", r->str);
	sh->error_logged = true;
	snprintf(sh->error, sizeof(sh->error), "%s", r->str);
}

/* A grant key is read twice (value, then expiry), which must agree. */
struct keyread {
	struct share *sh;
	int kind;
	struct drac_addr a;
	enum { KR_OK, KR_GONE, KR_GARBAGE, KR_ERROR, KR_SKIP } state;
	uint64_t val;
};

static void scan_maybe_done(struct share *sh)
{
	if (sh->phase != SCANNING || sh->scan_pending || strcmp(sh->cursor, "0") != 0)
		return;
	sh->phase = STEADY;
	loop_timer_stop(sh->deadline);
	sh->st.reconciles++;
	sh->st.reconciled = sh->scan_learned;
	sh->st.reconcile_ms = loop_now() - sh->scan_t0;
	/* A whole round went through: the next failure starts afresh. */
	sh->backoff_ms = BACKOFF_MIN_MS;
	sh->error_logged = false;
	if (!sh->st.read_errors)
		sh->error[0] = 0;
	msg_info("share: in step with %s: %llu grants learned, %llu garbage so far, %llu ms",
		 sh->endpoint, (unsigned long long)sh->scan_learned,
		 (unsigned long long)sh->st.garbage, (unsigned long long)sh->st.reconcile_ms);
}

static void get_cb(struct rconn *c, const redisReply *r, void *priv)
{
	struct keyread *k = priv;
	struct share *sh = k->sh;

	if (!r || c != sh->cmd) {
		if (k->kind == SHARE_REVOKE) /* else pexpiretime_cb frees it */
			free(k);
		return;
	}
	if (k->state == KR_SKIP) {
		/* its second read could not be sent */
	} else if (is_error(r)) {
		read_error(sh, r);
		k->state = KR_ERROR;
	} else if (r->type == REDIS_REPLY_NIL) {
		k->state = KR_GONE; /* expired or revoked meanwhile */
	} else if (r->type != REDIS_REPLY_STRING || share_parse_ms(r->str, r->len, &k->val) < 0) {
		k->state = KR_GARBAGE;
	}
	if (k->kind == SHARE_REVOKE) {
		if (k->state == KR_OK)
			apply_revoke(sh, &k->a, k->val);
		else if (k->state == KR_GARBAGE)
			sh->st.garbage++;
		free(k);
		sh->scan_pending--;
		scan_maybe_done(sh);
	}
}

static void pexpiretime_cb(struct rconn *c, const redisReply *r, void *priv)
{
	struct keyread *k = priv;
	struct share *sh = k->sh;

	if (!r || c != sh->cmd) {
		free(k);
		return;
	}
	sh->scan_pending--;
	if (is_error(r)) {
		read_error(sh, r);
	} else if (k->state == KR_GARBAGE) {
		sh->st.garbage++;
	} else if (k->state != KR_OK || (r->type == REDIS_REPLY_INTEGER && r->integer == -2)) {
		/* gone between the two reads, or the value could not be read */
	} else if (r->type != REDIS_REPLY_INTEGER || r->integer != (long long)k->val) {
		/* no time-to-live, or one that is not the value: not ours */
		sh->st.garbage++;
	} else {
		apply_grant(sh, &k->a, k->val, true);
	}
	free(k);
	scan_maybe_done(sh);
}

static void scan_cb(struct rconn *c, const redisReply *r, void *priv)
{
	struct share *sh = priv;
	const redisReply *keys;

	if (!r || c != sh->cmd)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(sh->cursor) ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		fail(sh, "SCAN: %s", is_error(r) ? r->str : "unexpected reply");
		return;
	}
	/* A cursor never comes back in one scan (a server that says so
	 * would keep us scanning for ever). */
	if (strcmp(sh->cursor, "0") != 0 && r->element[0]->len == strlen(sh->cursor) &&
	    memcmp(sh->cursor, r->element[0]->str, r->element[0]->len) == 0) {
		fail(sh, "SCAN: the cursor %s came back", sh->cursor);
		return;
	}
	memcpy(sh->cursor, r->element[0]->str, r->element[0]->len);
	sh->cursor[r->element[0]->len] = 0;
	keys = r->element[1];
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];
		const char *argv[2];
		size_t lens[2];
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
		argv[0] = "GET";
		argv[1] = k->str;
		lens[0] = 3;
		lens[1] = k->len;
		if (rconn_command(c, get_cb, kr, 2, argv, lens) < 0) {
			free(kr);
			continue;
		}
		sh->scan_pending++;
		if (kind == SHARE_GRANT) {
			argv[0] = "PEXPIRETIME";
			lens[0] = 11;
			if (rconn_command(c, pexpiretime_cb, kr, 2, argv, lens) < 0) {
				/* get_cb frees it, applying nothing */
				kr->kind = SHARE_REVOKE;
				kr->state = KR_SKIP;
			}
		}
	}
	if (strcmp(sh->cursor, "0") != 0)
		scan_next(sh);
	else
		scan_maybe_done(sh);
}

static void scan_next(struct share *sh)
{
	char match[SHARE_PREFIX_MAX + 4];

	snprintf(match, sizeof(match), "%s:*", sh->prefix);
	if (call(sh->cmd, scan_cb, sh, 6, "SCAN", sh->cursor, "MATCH", match, "COUNT", SCAN_COUNT) < 0)
		fail(sh, "SCAN: too many commands waiting for an answer");
}

/* Both connections are up: catch up in both directions. */
static void maybe_synced(struct share *sh)
{
	if (sh->phase != CONNECTING || !sh->cmd_ready || !sh->st.subscribed)
		return;
	sh->phase = SYNCING;
	sh->st.connected = true;
	sh->st.connects++;
	loop_timer_stop(sh->deadline);
	snapshot_grants(sh);
	msg_info("share: connected to %s as host %s: pushing %zu revocations and %zu grants",
		 sh->endpoint, sh->host_id, sh->q_count, sh->sync_n);
	sh->sub_pong_ms = loop_now();
	loop_timer_after(sh->ping, PING_EVERY_MS);
	drain(sh);
}

/* ---- connecting -------------------------------------------------------- */

/* Everything the subscribed connection hears: the subscription's
 * confirmation, messages, and the answers to its PINGs. */
static void sub_push(struct rconn *c, const redisReply *r, void *priv)
{
	struct share *sh = priv;
	const char *what;

	if (!r || c != sh->sub)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		sh->st.garbage++;
		return;
	}
	what = r->element[0]->str;
	if (strcmp(what, "message") == 0 && r->elements == 3) {
		on_message(sh, r->element[2]);
	} else if (strcmp(what, "pong") == 0) {
		sh->sub_pong_ms = loop_now();
	} else if (strcmp(what, "subscribe") == 0 && r->elements == 3 && !sh->st.subscribed) {
		sh->st.subscribed = true;
		sh->sub_pong_ms = loop_now();
		maybe_synced(sh);
	} else {
		sh->st.garbage++;
	}
}

static void auth_failed(struct share *sh, const char *what, const redisReply *r)
{
	sh->st.auth_failures++;
	fail(sh, "%s: %s", what, is_error(r) ? r->str : "unexpected reply");
}

static void role_cb(struct rconn *c, const redisReply *r, void *priv)
{
	struct share *sh = priv;

	if (!r || c != sh->cmd)
		return;
	/* ROLE's first element is "master" only on the master: a replica
	 * would refuse every write. */
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "master") != 0) {
		if (is_error(r))
			auth_failed(sh, "ROLE", r);
		else
			fail(sh, "%s:%u is not the master", sh->master_host, sh->master_port);
		return;
	}
	sh->cmd_ready = true;
	maybe_synced(sh);
}

static void select_cb(struct rconn *c, const redisReply *r, void *priv)
{
	struct share *sh = priv;

	if (!r || c != sh->cmd)
		return;
	if (is_error(r) || r->type != REDIS_REPLY_STATUS) {
		auth_failed(sh, "SELECT", r);
		return;
	}
	call(c, role_cb, sh, 1, "ROLE");
}

static void subscribe(struct share *sh)
{
	rconn_set_push(sh->sub, sub_push, sh);
	call(sh->sub, NULL, NULL, 2, "SUBSCRIBE", sh->channel);
}

static void auth_cb(struct rconn *c, const redisReply *r, void *priv)
{
	struct share *sh = priv;
	char db[12];

	if (!r || (c != sh->cmd && c != sh->sub))
		return;
	if (is_error(r) || r->type != REDIS_REPLY_STATUS) {
		auth_failed(sh, "AUTH", r);
		return;
	}
	if (c == sh->sub) {
		subscribe(sh);
		return;
	}
	snprintf(db, sizeof(db), "%u", sh->ep.db);
	call(c, select_cb, sh, 2, "SELECT", db);
}

static void send_auth(struct share *sh, struct rconn *c, rconn_reply_fn fn)
{
	if (*sh->user)
		call(c, fn, sh, 3, "AUTH", sh->user, sh->pass);
	else
		call(c, fn, sh, 2, "AUTH", sh->pass);
}

static void conn_event(struct rconn *c, const char *why, void *arg)
{
	struct share *sh = arg;

	if (c != sh->cmd && c != sh->sub)
		return;
	if (why) {
		if (c == sh->cmd)
			sh->cmd = NULL;
		else
			sh->sub = NULL;
		fail(sh, "%s", why);
		return;
	}
	if (*sh->pass) {
		send_auth(sh, c, auth_cb);
	} else if (c == sh->sub) {
		subscribe(sh);
	} else {
		char db[12];

		snprintf(db, sizeof(db), "%u", sh->ep.db);
		call(c, select_cb, sh, 2, "SELECT", db);
	}
}

static int open_conn(struct share *sh, struct rconn **c, const char *host, uint16_t port)
{
	*c = rconn_open(sh->loop, host, port, conn_event, sh);
	if (!*c) {
		fail(sh, "cannot connect to %s%s%u: %s", host, port ? ":" : "", port, strerror(errno));
		return -1;
	}
	return 0;
}

static void connect_master(struct share *sh)
{
	const char *host = sh->master_host;
	uint16_t port = sh->master_port;

	if (sh->ep.is_unix && !sh->n_sentinels) {
		host = sh->ep.path;
		port = 0;
	}
	sh->phase = CONNECTING;
	loop_timer_after(sh->deadline, CONNECT_TIMEOUT_MS);
	if (open_conn(sh, &sh->cmd, host, port) < 0 || open_conn(sh, &sh->sub, host, port) < 0)
		return;
}

static void sentinel_cb(struct rconn *c, const redisReply *r, void *priv)
{
	struct share *sh = priv;
	struct drac_addr a;
	char *end;
	unsigned long p;

	if (!r || c != sh->sent)
		return;
	/* The answer names the master: an address (a name would have to be
	 * resolved, which blocks) and a port. */
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len >= sizeof(sh->master_host) ||
	    addr_parse(r->element[0]->str, &a) < 0 ||
	    (p = strtoul(r->element[1]->str, &end, 10), *end || p == 0 || p > 65535)) {
		msg_warn("share: a sentinel has no usable answer for master %s%s%s",
			 sh->s->share_master, is_error(r) ? ": " : "", is_error(r) ? r->str : "");
		sh->sent = NULL;
		rconn_close(c);
		sentinel_try_next(sh);
		return;
	}
	memcpy(sh->master_host, r->element[0]->str, r->element[0]->len + 1);
	sh->master_port = (uint16_t)p;
	/* Say which Redis it is, in the log and drac status. */
	snprintf(sh->endpoint, sizeof(sh->endpoint), "sentinel master %s at %s%s%s:%u",
		 sh->s->share_master, a.family == AF_INET6 ? "[" : "", sh->master_host,
		 a.family == AF_INET6 ? "]" : "", sh->master_port);
	sh->sent = NULL;
	rconn_close(c);
	connect_master(sh);
}

static void ignore_cb(struct rconn *c, const redisReply *r, void *priv)
{
}

static void sentinel_event(struct rconn *c, const char *why, void *arg)
{
	struct share *sh = arg;

	if (c != sh->sent)
		return;
	if (why) {
		sh->sent = NULL;
		sentinel_try_next(sh);
		return;
	}
	/* A Sentinel with ACLs wants the same credentials; one without
	 * refuses AUTH, which changes nothing. */
	if (*sh->pass)
		send_auth(sh, c, ignore_cb);
	call(c, sentinel_cb, sh, 3, "SENTINEL", "get-master-addr-by-name", sh->s->share_master);
}

/* Ask the sentinels in turn, starting after the one asked last time;
 * one round without an answer is a failure. */
static void sentinel_try_next(struct share *sh)
{
	struct share_hostport *hp;

	if (sh->sentinel_tries++ >= sh->n_sentinels) {
		fail(sh, "no sentinel knows master %s", sh->s->share_master);
		return;
	}
	hp = &sh->sentinels[sh->sentinel_next];
	sh->sentinel_next = (sh->sentinel_next + 1) % sh->n_sentinels;
	sh->phase = SENTINEL;
	loop_timer_after(sh->deadline, SENTINEL_TIMEOUT_MS);
	sh->sent = rconn_open(sh->loop, hp->host, hp->port, sentinel_event, sh);
	if (!sh->sent)
		sentinel_try_next(sh);
}

static void begin_connect(struct share *sh)
{
	if (sh->stopping)
		return;
	drop_all(sh);
	if (sh->n_sentinels) {
		sh->sentinel_tries = 0;
		sentinel_try_next(sh);
	} else {
		connect_master(sh);
	}
}

/* ---- set-up ------------------------------------------------------------ */

/* The credentials file: its owner's to read, no one else's, and never
 * on a command line. */
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
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0077)) {
		msg_err("DRAC_SHARE_AUTH: %s must be a regular file that neither group nor "
			"others may read (chmod 600)", path);
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
	sh->retry = loop_timer_new(l, on_retry, sh);
	sh->deadline = loop_timer_new(l, on_deadline, sh);
	sh->ping = loop_timer_new(l, on_ping, sh);
	if (!sh->retry || !sh->deadline || !sh->ping)
		goto bad;
	gate_set_share(g, &share_ops, sh);
	/* Before the gate's (registered by gate_start): a grant goes to
	 * Redis before this host writes its map, which can take a while. */
	loop_on_idle(l, share_idle, sh);
	return sh;
bad:
	share_free(sh);
	return NULL;
}

void share_start(struct share *sh)
{
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
