/* gate.c - grant, mirror, restore.
 *
 * One direction only: sources -> kernel set -> events -> mirror -> map.
 * Our own grants reach the mirror the same way as an administrator's
 * `nft add element`, so there is one path to test.  The kernel announces
 * no expiry, so the mirror expires entries on its own timer; it forgets
 * nothing when the table disappears (flush ruleset, firewall reload):
 * the table comes back with every unexpired grant and its remaining time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "log.h"
#include "mirror.h"
#include "nfevents.h"
#include "nftset.h"
#include "ruleset.h"

struct gate {
	struct loop *loop;
	const struct settings *s;
	bool tap;
	struct nftset *ns;
	struct mirror *mirror;
	struct nfevents *ev;
	struct loop_timer *mirror_timer;
	bool restore_pending, resync_pending;
	bool kept4, kept6;      /* the sets existed before dracd loaded its table */
	bool empty;		/* -i: start with empty sets and map */
	bool started;		/* gate_start succeeded: the map is ours */
	uint64_t restore_after; /* loop_now() ms: retry of a failed restore */
	gate_forward_fn forward;
	void *forward_arg;
	const struct gate_share_ops *share;
	void *share_arg;
	struct drac_addr *revq;	/* revocations heard this turn (gate_idle) */
	size_t nrevq, revq_cap;
	struct gate_stats st;
};

static void gate_idle(void *arg);

/* The table must come back (at once; gate_restore spaces out retries). */
static void request_restore(struct gate *g)
{
	g->restore_pending = true;
	g->restore_after = 0;
}

/* A revocation heard from the fleet earlier in this loop turn, not yet
 * applied (gate_idle), is older than a grant heard or made now: it goes,
 * as it went in Redis, whose script saw them in the same order. */
static void cancel_revoke(struct gate *g, const struct drac_addr *a)
{
	for (size_t i = 0; i < g->nrevq; i++)
		if (addr_eq(&g->revq[i], a))
			g->revq[i--] = g->revq[--g->nrevq];
}

/* Loopback and the trusted networks never need a grant. */
static bool refuse(struct gate *g, const struct drac_addr *a, const char *buf, const char *src)
{
	if (addr_is_loopback(a) || netlist_match(&g->s->trusted, a)) {
		g->st.refused++;
		msg_info("not granting %s (source %s): trusted network", buf, src);
		return true;
	}
	return false;
}

int gate_grant(const struct drac_addr *a0, enum grant_source src, void *arg)
{
	struct gate *g = arg;
	struct drac_addr a = *a0;
	char buf[ADDR_STRLEN];

	addr_unmap(&a);
	addr_fmt(&a, buf, sizeof(buf));
	if (refuse(g, &a, buf, source_name(src)))
		return -1;
	cancel_revoke(g, &a);
	if (nftset_queue(g->ns, &a, g->s->window_ms) < 0) {
		msg_err("cannot queue grant of %s: out of memory", buf);
		return -1;
	}
	/* In the table at once (the event repeats it): a revocation of an
	 * older grant heard later in this turn must see this one. */
	if (g->mirror)
		mirror_set(g->mirror, &a, wall_now() + g->s->window_ms);
	g->st.grants[src]++;
	msg_info("grant %s for %llus (source %s)", buf,
		 (unsigned long long)(g->s->window_ms / 1000), source_name(src));
	if (g->forward && src != SRC_RPC && src != SRC_RESTORE)
		g->forward(g->forward_arg, &a);
	if (g->share && src != SRC_RESTORE)
		g->share->granted(g->share_arg, &a, wall_now() + g->s->window_ms);
	return 0;
}

int gate_apply_grant(struct gate *g, const struct drac_addr *a0, uint64_t end_ms, bool *clamped)
{
	struct drac_addr a = *a0;
	uint64_t now = wall_now(), have;
	char buf[ADDR_STRLEN];

	*clamped = false;
	addr_unmap(&a);
	cancel_revoke(g, &a);
	if (end_ms > now + g->s->window_ms) {
		end_ms = now + g->s->window_ms;
		*clamped = true;
	}
	if (end_ms <= now + 1000) /* under a second left: let it go */
		return 0;
	if (g->mirror && mirror_get(g->mirror, &a, &have) && have + 1000 >= end_ms)
		return 0;
	addr_fmt(&a, buf, sizeof(buf));
	if (refuse(g, &a, buf, source_name(SRC_SHARE)))
		return -1;
	if (nftset_queue(g->ns, &a, end_ms - now) < 0) {
		msg_err("cannot queue grant of %s: out of memory", buf);
		return -1;
	}
	/* In the table at once, so that a revocation heard before the
	 * commit's event compares with this grant (the event repeats it). */
	if (g->mirror)
		mirror_set(g->mirror, &a, end_ms);
	g->st.grants[SRC_SHARE]++;
	msg_debug("grant %s for %llus (source share)", buf,
		  (unsigned long long)((end_ms - now) / 1000));
	return 1;
}

int gate_apply_revoke(struct gate *g, const struct drac_addr *a0, uint64_t when_ms)
{
	struct drac_addr a = *a0;
	uint64_t have;
	char buf[ADDR_STRLEN];

	addr_unmap(&a);
	/* Grants are in the table from the moment they are queued, so
	 * absent means not here.  One that began after the revocation is
	 * a new login, which stands: the same comparison as Redis' script
	 * makes (share.c), so that every host and the keyspace agree
	 * (hosts' clocks must: NTP). */
	if (!g->mirror || !mirror_get(g->mirror, &a, &have) ||
	    have > when_ms + g->s->window_ms)
		return 0;
	/* Removed when the turn ends, after the grants queued in it (so
	 * one heard just before does not come back), all in a few
	 * transactions. */
	if (g->nrevq == g->revq_cap) {
		size_t cap = g->revq_cap ? g->revq_cap * 2 : 64;
		struct drac_addr *n = realloc(g->revq, cap * sizeof(*n));

		if (!n) {
			msg_err("cannot revoke %s: out of memory", addr_fmt(&a, buf, sizeof(buf)));
			return 0;
		}
		g->revq = n;
		g->revq_cap = cap;
	}
	g->revq[g->nrevq++] = a;
	return 1;
}

void gate_set_share(struct gate *g, const struct gate_share_ops *ops, void *arg)
{
	g->share = ops;
	g->share_arg = arg;
}

const struct settings *gate_settings(const struct gate *g)
{
	return g->s;
}

static void queue_remaining(const struct drac_addr *a, uint64_t expiry, void *arg)
{
	struct gate *g = arg;
	uint64_t now = wall_now();

	if (expiry > now + 1000) { /* under a second left: let it go */
		nftset_queue(g->ns, a, expiry - now);
		g->st.restored++;
	}
}

/* Make the table exist and hold every unexpired grant the mirror knows. */
static int gate_restore(struct gate *g, const char *why)
{
	char err[512];
	uint64_t before = g->st.restored;
	int n;

	/* Until it succeeds, try again every second. */
	g->restore_pending = true;
	g->restore_after = loop_now() + 1000;
	if (ruleset_apply(g->s, g->tap, err, sizeof(err)) < 0) {
		msg_err("cannot load table inet drac: %s", err);
		return -1;
	}
	/* Anything still queued goes in the same batch. */
	mirror_foreach(g->mirror, queue_remaining, g);
	n = nftset_commit(g->ns, err, sizeof(err));
	if (n < 0) {
		msg_err("restore: %s", err);
		nftset_discard(g->ns); /* the mirror still has all of it */
		return -1;
	}
	g->restore_pending = false;
	g->st.restores++;
	if (why)
		msg_info("%s: table inet drac restored with %llu grants", why,
			 (unsigned long long)(g->st.restored - before));
	return 0;
}

static void commit(struct gate *g)
{
	char err[512];

	if (!nftset_queued(g->ns))
		return;
	if (nftset_commit(g->ns, err, sizeof(err)) >= 0) {
		g->st.commits++;
		return;
	}
	if (errno == ENOENT) {
		/* The table went away before its events reached us; the
		 * failed batch is still queued. */
		if (ruleset_apply(g->s, g->tap, err, sizeof(err)) == 0 &&
		    nftset_commit(g->ns, err, sizeof(err)) >= 0) {
			g->st.commits++;
			request_restore(g); /* bring back the others too */
			return;
		}
	}
	g->st.commit_errors++;
	msg_err("%s", err);
	nftset_discard(g->ns);
}

static void add_to_mirror(const struct drac_addr *a, uint64_t timeout, uint64_t expires, void *arg)
{
	struct gate *g = arg;

	mirror_set(g->mirror, a, wall_now() + (expires ? expires : g->s->window_ms));
}

struct dumped {
	struct {
		struct drac_addr a;
		uint64_t expires;
	} *e;
	size_t n, cap;
	bool nomem;
};

static void collect(const struct drac_addr *a, uint64_t timeout, uint64_t expires, void *arg)
{
	struct dumped *d = arg;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 1024;
		void *p = realloc(d->e, cap * sizeof(*d->e));

		if (!p) {
			d->nomem = true;
			return;
		}
		d->e = p;
		d->cap = cap;
	}
	d->e[d->n].a = *a;
	d->e[d->n].expires = expires;
	d->n++;
}

static void collect_old(const struct drac_addr *a, uint64_t expiry, void *arg)
{
	collect(a, 0, expiry, arg); /* here expires is the wall-clock end */
}

/* Read both sets again after lost events: the kernel is the truth, but
 * only once both dumps succeeded (a table deleted meanwhile must not
 * empty the mirror: it is what the restore brings back). */
static void gate_resync(struct gate *g)
{
	struct dumped d = { 0 }, old = { 0 };
	int n4, n6;

	g->resync_pending = false;
	g->st.resyncs++;
	n4 = nftset_dump(g->ns, AF_INET, collect, &d);
	n6 = nftset_dump(g->ns, AF_INET6, collect, &d);
	if (n4 < 0 || n6 < 0 || d.nomem) {
		free(d.e);
		request_restore(g);
		return;
	}
	if (g->share)
		mirror_foreach(g->mirror, collect_old, &old);
	mirror_clear(g->mirror, 0);
	for (size_t i = 0; i < d.n; i++)
		add_to_mirror(&d.e[i].a, 0, d.e[i].expires, g);
	/* The lost events may have been anyone's grants and revocations:
	 * the fleet hears the difference (the later expiry wins there, so
	 * telling it every grant again is harmless). */
	if (g->share && !old.nomem) {
		uint64_t now = wall_now();

		for (size_t i = 0; i < old.n; i++)
			if (old.e[i].expires > now + 1000 && !mirror_get(g->mirror, &old.e[i].a, NULL))
				g->share->revoked(g->share_arg, &old.e[i].a, now);
		for (size_t i = 0; i < d.n; i++)
			if (d.e[i].expires)
				g->share->granted(g->share_arg, &d.e[i].a, now + d.e[i].expires);
	}
	free(old.e);
	free(d.e);
	msg_info("resynchronised with the kernel: %d IPv4 and %d IPv6 grants", n4, n6);
}

static void arm_mirror_timer(struct gate *g)
{
	uint64_t when = mirror_next_deadline(g->mirror), now = wall_now(), delay;

	if (when == UINT64_MAX && !g->restore_pending) {
		loop_timer_stop(g->mirror_timer);
		return;
	}
	delay = when == UINT64_MAX ? UINT64_MAX : when > now ? when - now : 0;
	if (g->restore_pending) {
		uint64_t mono = loop_now(), r = g->restore_after > mono ? g->restore_after - mono : 0;

		delay = r < delay ? r : delay;
	}
	loop_timer_after(g->mirror_timer, delay);
}

static void gate_idle(void *arg)
{
	struct gate *g = arg;

	commit(g);
	if (g->nrevq) {
		nftset_revoke_many(g->ns, g->revq, g->nrevq);
		g->nrevq = 0;
	}
	if (g->resync_pending)
		gate_resync(g);
	if (g->restore_pending && loop_now() >= g->restore_after)
		gate_restore(g, "table inet drac was removed");
	mirror_tick(g->mirror, wall_now());
	arm_mirror_timer(g);
}

static void mirror_due(void *arg)
{
	/* gate_idle runs right after every loop iteration; nothing to do. */
}

static void ev_elem(void *arg, bool added, const struct drac_addr *a, uint64_t expires,
		    uint32_t portid)
{
	struct gate *g = arg;
	/* Changes dracd made itself (its grants, restores, what it heard
	 * from the fleet) are told to the fleet where they are made, or not
	 * at all; anyone else's (drac add/del/flush, nft) are told here. */
	bool foreign = g->share && portid != nftset_portid(g->ns);

	if (added) {
		add_to_mirror(a, 0, expires, g);
		if (foreign && expires)
			g->share->granted(g->share_arg, a, wall_now() + expires);
	} else {
		if (foreign)
			g->share->revoked(g->share_arg, a, wall_now());
		char buf[ADDR_STRLEN];

		if (mirror_get(g->mirror, a, NULL))
			msg_info("revoked %s (removed from inet drac %s)", addr_fmt(a, buf, sizeof(buf)),
				 nftset_name(a->family));
		mirror_del(g->mirror, a);
	}
}

static void ev_gone(void *arg)
{
	struct gate *g = arg;

	request_restore(g);
}

static void ev_resync(void *arg)
{
	struct gate *g = arg;

	g->resync_pending = true;
}

static const struct nfevents_ops gate_ev_ops = { ev_elem, ev_gone, ev_resync };

struct gate *gate_new(struct loop *l, const struct settings *s, bool tap, bool empty)
{
	struct gate *g = calloc(1, sizeof(*g));
	char err[512];

	if (!g)
		return NULL;
	g->loop = l;
	g->s = s;
	g->tap = tap;
	g->st.started_wall_ms = wall_now();
	g->ns = nftset_open();
	if (!g->ns) {
		msg_err("cannot open nf_tables netlink socket: %s%s", strerror(errno),
			errno == EPERM ? " (needs CAP_NET_ADMIN)" : "");
		goto bad;
	}
	/* Which sets outlived the last dracd, before loading the table
	 * makes them exist (gate_start trusts those over the files). */
	g->kept4 = nftset_exists(g->ns, AF_INET) == 1;
	g->kept6 = nftset_exists(g->ns, AF_INET6) == 1;
	if (ruleset_apply(s, tap, err, sizeof(err)) < 0) {
		msg_err("cannot load table inet drac: %s", err);
		goto bad;
	}
	/* Listen before changing anything, so no change is missed (the
	 * events wait in the socket until the loop runs, after gate_start). */
	g->ev = nfevents_open(l, s->event_buffer, &gate_ev_ops, g);
	g->mirror_timer = loop_timer_new(l, mirror_due, g);
	if (!g->ev || !g->mirror_timer)
		goto bad;
	g->empty = empty;
	return g;
bad:
	gate_free(g);
	return NULL;
}

int gate_start(struct gate *g)
{
	const struct settings *s = g->s;
	struct mirror_config mc = { 0 };

	mc.map_path = s->map_path;
	mc.min_write_interval_ms = s->write_interval_ms;
	g->mirror = mirror_new(&mc);
	if (!g->mirror)
		return -1;
	if (g->empty) {
		if (nftset_flush(g->ns, AF_INET) < 0 || nftset_flush(g->ns, AF_INET6) < 0)
			msg_warn("cannot empty the sets: %s", strerror(errno));
		mirror_clear(g->mirror, 0);
	} else {
		/* A missing or damaged map is logged by the mirror and
		 * rebuilt from the kernel sets below. */
		mirror_load(g->mirror, wall_now());
		/* A set that outlived dracd is the truth for its family: what
		 * the files hold beyond it was revoked (drac del, nft delete
		 * element) or ended while dracd was down, and must not come
		 * back.  The files only restore a set that is gone (a reboot,
		 * a flushed ruleset). */
		for (int i = 0; i < 2; i++) {
			int fam = i ? AF_INET6 : AF_INET;

			if (!(i ? g->kept6 : g->kept4))
				continue;
			mirror_clear(g->mirror, fam);
			if (nftset_dump(g->ns, fam, add_to_mirror, g) < 0)
				msg_warn("cannot read inet drac %s: %s", nftset_name(fam),
					 strerror(errno));
		}
		if (gate_restore(g, NULL) < 0)
			return -1;
	}
	if (mirror_write_now(g->mirror) < 0)
		return -1;
	msg_info("started: %zu grants in force, map %s, window %llus", mirror_count(g->mirror),
		 s->map_path, (unsigned long long)(s->window_ms / 1000));
	loop_on_idle(g->loop, gate_idle, g);
	g->started = true;
	return 0;
}

void gate_free(struct gate *g)
{
	if (!g)
		return;
	/* A clean stop leaves no grant in the map that nobody would expire;
	 * the state file and the kernel sets keep them for the next start.
	 * A start that failed before the map was ours leaves it alone. */
	if (g->mirror && g->started)
		mirror_shutdown(g->mirror);
	nfevents_close(g->ev);
	loop_timer_free(g->mirror_timer);
	mirror_free(g->mirror);
	nftset_close(g->ns);
	free(g->revq);
	free(g);
}

int gate_reconfigure(struct gate *g, const struct settings *s, bool tap)
{
	char err[512];

	g->s = s;
	g->tap = tap;
	/* Which sets outlived the last dracd, before loading the table
	 * makes them exist (gate_start trusts those over the files). */
	g->kept4 = nftset_exists(g->ns, AF_INET) == 1;
	g->kept6 = nftset_exists(g->ns, AF_INET6) == 1;
	if (ruleset_apply(s, tap, err, sizeof(err)) < 0) {
		msg_err("cannot load table inet drac: %s", err);
		return -1;
	}
	return 0;
}

void gate_set_forward(struct gate *g, gate_forward_fn fn, void *arg)
{
	g->forward = fn;
	g->forward_arg = arg;
}

const struct gate_stats *gate_stats(const struct gate *g)
{
	return &g->st;
}

struct mirror *gate_mirror(const struct gate *g)
{
	return g->mirror;
}

struct nfevents *gate_events(const struct gate *g)
{
	return g->ev;
}
