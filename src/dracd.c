/* dracd.c - the daemon: read the settings, open the sources, run the loop
 *
 *   dracd [-f] [-d] [-i] [-c settings] [-e window] [-o KEY=VALUE]... [dbfile]
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "flow.h"
#include "gate.h"
#include "log.h"
#include "loghook.h"
#include "loop.h"
#include "mirror.h"
#include "nfevents.h"
#include "policy.h"
#include "rpcfwd.h"
#include "rpcsrv.h"
#include "ruleset.h"
#include "settings.h"
#include "share.h"
#include "tap.h"
#include "tapdone.h"

#define FLOW_IDLE_MS 120000
#define MAX_OVERRIDES 64

struct dracd {
	struct loop *loop;
	struct settings s;
	const char *settings_path;
	bool path_given;
	char *overrides[MAX_OVERRIDES];
	int n_overrides;
	const char *dbfile;
	const char *window_arg;
	struct gate *gate;
	struct tap *tap;
	struct flow_table *flows;
	struct loop_timer *flow_timer;
	uint64_t lost_seen;
	struct loghook *loghook;
	struct rpcsrv *rpc;
	struct rpcfwd *fwd;
	struct control *control;
	struct policy *policy;
	struct tapdone *tapdone;
	struct share *share;
};

static void usage(FILE *f)
{
	fputs("usage: dracd [-f] [-d] [-i] [-c settings] [-e window] [-o KEY=VALUE]... [dbfile]\n"
	      "  -f          stay in the foreground, log to stderr\n"
	      "  -d          debug messages\n"
	      "  -i          start with an empty set and map (like rpc.dracd -i)\n"
	      "  -c FILE     settings file (default /etc/sysconfig/dracd, else /etc/default/dracd)\n"
	      "  -e WINDOW   relay window: minutes, or 90s, 45m, 2h (EXPIRE_TIME)\n"
	      "  -o KEY=VAL  override one setting of the file\n"
	      "  dbfile      the Postfix map (DRAC_MAP, default /etc/dracd/dracd.db)\n"
	      "  --print-ruleset   print table inet drac as loaded, and exit\n"
	      "  --print-settings  print the effective settings, and exit\n"
	      "  --clear-map       as DRAC_USER, move the map's grants to MAP.state and\n"
	      "                    leave an empty map (after dracd died), and exit\n",
	      f);
}

/* The file, then -o overrides, -e and the dbfile argument, into s. */
static int load_settings(struct dracd *d, struct settings *s)
{
	char err[512];

	settings_defaults(s);
	if (settings_load(s, d->settings_path, d->path_given, err, sizeof(err)) < 0)
		goto bad;
	for (int i = 0; i < d->n_overrides; i++) {
		char *eq = strchr(d->overrides[i], '=');

		if (!eq) {
			snprintf(err, sizeof(err), "-o %s: expected KEY=VALUE", d->overrides[i]);
			goto bad;
		}
		*eq = '\0';
		if (settings_set(s, d->overrides[i], eq + 1, err, sizeof(err)) < 0) {
			*eq = '=';
			goto bad;
		}
		*eq = '=';
	}
	if (d->window_arg && settings_set(s, "EXPIRE_TIME", d->window_arg, err, sizeof(err)) < 0)
		goto bad;
	if (d->dbfile && settings_set(s, "DRAC_MAP", d->dbfile, err, sizeof(err)) < 0)
		goto bad;
	return 0;
bad:
	msg_err("%s", err);
	settings_free(s);
	return -1;
}

static void on_packet(void *arg, int family, unsigned how, const uint8_t *pkt, size_t len)
{
	struct dracd *d = arg;
	const struct tap_stats *ts = tap_stats(d->tap);
	struct flow_grant g;

	/* A lost packet may have carried the real bytes at a sequence
	 * number where we saw a forged copy: no flow alive now may grant. */
	if (ts->lost + ts->overruns != d->lost_seen) {
		d->lost_seen = ts->lost + ts->overruns;
		flow_lost(d->flows);
	}

	how = (how & TAP_OUT ? FLOW_OUT : 0) | (how & TAP_LO ? FLOW_LOCAL : 0);
	if (flow_packet(d->flows, family, how, pkt, len, loop_now(), &g) == 1)
		gate_grant(&g.client, SRC_NFLOG, d->gate);
}

/* The flow table is done with a connection: the tap chains may stop
 * copying it (bulk transfers after a login). */
static void on_flow_done(void *arg, const struct flow_tuple *t)
{
	struct dracd *d = arg;

	if (!d->tapdone && !(d->tapdone = tapdone_open()))
		return;
	tapdone_add(d->tapdone, t);
}

/* After the grants of this loop iteration are committed (the gate's
 * idle hook runs first): finished connections leave the tap. */
static void tapdone_idle(void *arg)
{
	struct dracd *d = arg;

	tapdone_flush(d->tapdone);
}

static void flow_tick(void *arg)
{
	struct dracd *d = arg;

	flow_expire(d->flows, loop_now());
	loop_timer_after(d->flow_timer, 5000);
}

static void forward_grant(void *arg, const struct drac_addr *a)
{
	rpcfwd_send(arg, a);
}

static void stop_sources(struct dracd *d)
{
	policy_free(d->policy);
	d->policy = NULL;
	rpcfwd_free(d->fwd);
	d->fwd = NULL;
	rpcsrv_free(d->rpc);
	d->rpc = NULL;
	loghook_free(d->loghook);
	d->loghook = NULL;
	tap_close(d->tap);
	d->tap = NULL;
	loop_timer_free(d->flow_timer);
	d->flow_timer = NULL;
	flow_free(d->flows);
	d->flows = NULL;
	tapdone_close(d->tapdone);
	d->tapdone = NULL;
}

static bool same_ports(const uint16_t *a, unsigned na, const uint16_t *b, unsigned nb)
{
	return na == nb && memcmp(a, b, na * sizeof(*a)) == 0;
}

static bool flows_same(const struct settings *a, const struct settings *b)
{
	return same_ports(a->pop3_ports, a->n_pop3, b->pop3_ports, b->n_pop3) &&
	       same_ports(a->imap_ports, a->n_imap, b->imap_ports, b->n_imap) &&
	       a->max_flows == b->max_flows;
}

static bool loghook_same(const struct settings *a, const struct settings *b)
{
	return strcmp(a->loghook_socket, b->loghook_socket) == 0 &&
	       strcmp(a->loghook_file, b->loghook_file) == 0 && a->loghook_stdin == b->loghook_stdin &&
	       strcmp(a->loghook_journal, b->loghook_journal) == 0 &&
	       strcmp(a->loghook_uids, b->loghook_uids) == 0;
}

/* The policy service answers from the mirror at the moment of the
 * query: the expiry is compared to now, not left to a timer. */
static bool policy_lookup(const struct drac_addr *a, void *arg)
{
	struct dracd *d = arg;

	return policy_mirror_granted(gate_mirror(d->gate), a, wall_now());
}

/* Like the other sources: unchanged is left alone, a changed endpoint is
 * built before the old one goes (a failure keeps the old one). */
static int apply_policy(struct dracd *d, const struct settings *old, const struct settings *s)
{
	struct policy *p;

	if (old && strcmp(old->policy, s->policy) == 0 && (d->policy || !*s->policy))
		return 0;
	if (!*s->policy) {
		policy_free(d->policy);
		d->policy = NULL;
		return 0;
	}
	if (!(p = policy_new(d->loop, s->policy, policy_lookup, d)))
		return -1;
	policy_free(d->policy);
	d->policy = p;
	return 0;
}

/* Bring the sources in line with s.  old is what they run with now (NULL
 * at start).  A source whose settings did not change is left alone, so a
 * reload loses no login in flight and needs no privilege; a changed one
 * is built before its predecessor goes, so a failure keeps the old one
 * running.  -1 when any source could not be (re)built. */
static int apply_sources(struct dracd *d, const struct settings *old, const struct settings *s)
{
	int rc = 0;

	if (s->tap && (!old || !old->tap || !flows_same(old, s) || !d->flows)) {
		struct flow_config fc = { .max_flows = s->max_flows, .idle_ms = FLOW_IDLE_MS,
					  .done = on_flow_done, .done_arg = d };
		struct flow_table *ft;

		memcpy(fc.pop3_ports, s->pop3_ports, sizeof(fc.pop3_ports));
		memcpy(fc.imap_ports, s->imap_ports, sizeof(fc.imap_ports));
		fc.n_pop3 = s->n_pop3;
		fc.n_imap = s->n_imap;
		ft = flow_new(&fc);
		if (ft) {
			flow_free(d->flows);
			d->flows = ft;
		} else {
			msg_err("cannot allocate the flow table (%u flows)", s->max_flows);
			rc = -1;
		}
		if (!d->flow_timer && (d->flow_timer = loop_timer_new(d->loop, flow_tick, d)))
			loop_timer_after(d->flow_timer, 5000);
	}
	if (s->tap && d->flows && (!d->tap || (old && old->nflog_group != s->nflog_group))) {
		struct tap *t;

		/* A new group can be bound beside the old; the same group
		 * is never rebound. */
		if (d->tap && old && old->nflog_group == s->nflog_group)
			t = d->tap;
		else if ((t = tap_open(d->loop, s->nflog_group, on_packet, d)))
			tap_close(d->tap);
		if (t)
			d->tap = t;
		else
			rc = -1;
	}
	if (!s->tap) {
		tap_close(d->tap);
		d->tap = NULL;
		loop_timer_free(d->flow_timer);
		d->flow_timer = NULL;
		flow_free(d->flows);
		d->flows = NULL;
	}
	bool want_hook = *s->loghook_socket || *s->loghook_file || s->loghook_stdin ||
			 *s->loghook_journal;

	if (!old || !loghook_same(old, s) || (want_hook && !d->loghook)) {
		struct loghook *h = NULL;

		if (want_hook) {
			struct loghook_config lc = {
				.socket_path = *s->loghook_socket ? s->loghook_socket : NULL,
				.file_path = *s->loghook_file ? s->loghook_file : NULL,
				.use_stdin = s->loghook_stdin,
				.journal = *s->loghook_journal ? s->loghook_journal : NULL,
				.uids = s->loghook_uids,
			};

			/* Same socket path: the old one must go first. */
			if (old && strcmp(old->loghook_socket, s->loghook_socket) == 0) {
				loghook_free(d->loghook);
				d->loghook = NULL;
			}
			h = loghook_new(d->loop, &lc, gate_grant, d->gate);
			if (!h)
				rc = -1;
		}
		if (h || !want_hook) {
			loghook_free(d->loghook);
			d->loghook = h;
		}
	}
	if (d->rpc && (!s->rpc || strcmp(old->allow_path, s->allow_path) != 0 ||
		       old->rpc_udp != s->rpc_udp)) {
		rpcsrv_free(d->rpc);
		d->rpc = NULL;
	} else if (d->rpc) {
		/* dracd.allow is re-read in place: a bad file keeps the old
		 * list, and the port and rpcbind registration stay. */
		rpcsrv_reload(d->rpc);
	}
	if (s->rpc && !d->rpc) {
		struct rpcsrv_opts ro = { .allow_path = s->allow_path, .no_udp = !s->rpc_udp };

		d->rpc = rpcsrv_new_opts(d->loop, &ro, gate_grant, d->gate);
		if (!d->rpc)
			rc = -1;
	}
	if (s->forward) {
		struct rpcfwd *f = rpcfwd_new(d->loop, s->conf_path);

		if (f) {
			rpcfwd_free(d->fwd);
			d->fwd = f;
		} else {
			rc = -1;
		}
	} else {
		rpcfwd_free(d->fwd);
		d->fwd = NULL;
	}
	gate_set_forward(d->gate, d->fwd ? forward_grant : NULL, d->fwd);
	if (apply_policy(d, old, s) < 0)
		rc = -1;
	return rc;
}

static void on_term(void *arg)
{
	struct dracd *d = arg;

	msg_info("stopping; grants stay in the kernel sets and the state file, "
		 "the map is emptied");
	loop_stop(d->loop);
}

/* Settings used once at start: a new value waits for a restart, and
 * the running value stays in d->s, which drac status shows. */
static void keep_restart_settings(struct dracd *d, struct settings *fresh)
{
	static const struct {
		const char *key;
		size_t off, len;
		bool str;	/* text: compared up to its NUL */
	} once[] = {
#define ONCE(k, f, t) { k, offsetof(struct settings, f), sizeof(((struct settings *)0)->f), t }
		ONCE("DRAC_MAP", map_path, true),
		ONCE("DRAC_USER", user, true),
		ONCE("DRAC_PIDFILE", pidfile, true),
		ONCE("DRAC_CONTROL", control, true),
		ONCE("DRAC_EVENT_BUFFER", event_buffer, false),
		ONCE("DRAC_MAP_INTERVAL", write_interval_ms, false),
		/* the credentials file is root's to read: at start only */
		ONCE("DRAC_SHARE", share, true),
		ONCE("DRAC_SHARE_AUTH", share_auth, true),
		ONCE("DRAC_SHARE_SENTINELS", share_sentinels, true),
		ONCE("DRAC_SHARE_MASTER", share_master, true),
		ONCE("DRAC_SHARE_PREFIX", share_prefix, true),
		ONCE("DRAC_SHARE_QUEUE", share_queue, false),
#undef ONCE
	};

	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
		char *now = (char *)&d->s + once[i].off, *want = (char *)fresh + once[i].off;

		if (once[i].str ? !strncmp(now, want, once[i].len) : !memcmp(now, want, once[i].len))
			continue;
		msg_warn("%s changed in %s: it takes effect only at a restart; "
			 "the running value stays in force", once[i].key, d->settings_path);
		memcpy(want, now, once[i].len);
	}
}

static void on_hup(void *arg)
{
	struct dracd *d = arg;
	struct settings fresh, old;

	if (load_settings(d, &fresh) < 0) {
		msg_err("reload refused; the old settings stay in force");
		return;
	}
	keep_restart_settings(d, &fresh);
	old = d->s;
	d->s = fresh;
	if (gate_reconfigure(d->gate, &d->s, d->s.tap) < 0 || apply_sources(d, &old, &d->s) < 0)
		msg_err("reload incomplete: what could not be rebuilt keeps running with its "
			"old settings");
	else
		msg_info("settings reloaded from %s", d->settings_path);
	settings_free(&old);
}

static void json_u64(FILE *f, const char *k, uint64_t v, bool comma)
{
	fprintf(f, "\"%s\":%llu%s", k, (unsigned long long)v, comma ? "," : "");
}

/* A string from outside (Redis' error text): escaped, control bytes out. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fputc('?', f);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void share_json(const struct share *sh, FILE *f);

static void status_json(void *arg, FILE *f)
{
	struct dracd *d = arg;
	const struct gate_stats *gs = gate_stats(d->gate);
	const struct mirror_stats *ms = mirror_stats(gate_mirror(d->gate));
	const struct nfevents_stats *es = nfevents_stats(gate_events(d->gate));
	uint64_t now = wall_now();

	fprintf(f, "{\"pid\":%d,", (int)getpid());
	json_u64(f, "uptime_s", (now - gs->started_wall_ms) / 1000, true);
	json_u64(f, "window_s", d->s.window_ms / 1000, true);
	fprintf(f, "\"map\":{\"path\":\"%s\",", d->s.map_path);
	json_u64(f, "entries", mirror_count(gate_mirror(d->gate)), true);
	json_u64(f, "writes", ms->writes, true);
	json_u64(f, "write_errors", ms->write_errors, true);
	json_u64(f, "last_write_age_ms", ms->last_write_wall_ms ? now - ms->last_write_wall_ms : 0, true);
	/* Seconds since the epoch of the first failed write; 0: current. */
	json_u64(f, "stale_since", ms->stale_since_ms / 1000, true);
	json_u64(f, "removed", ms->map_removed, true);
	fprintf(f, "\"error\":\"%s\"", ms->error);
	fputs("},\"grants\":{", f);
	/* drac add and nft add element go to the kernel directly: dracd
	 * sees them only as set events (kernel.events), not as grants. */
	for (int i = 0; i < SRC_COUNT; i++)
		if (i != SRC_CLI)
			json_u64(f, source_name(i), gs->grants[i], true);
	json_u64(f, "refused_trusted", gs->refused, false);
	fputs("},\"kernel\":{", f);
	json_u64(f, "commits", gs->commits, true);
	json_u64(f, "commit_errors", gs->commit_errors, true);
	json_u64(f, "restores", gs->restores, true);
	json_u64(f, "resyncs", gs->resyncs, true);
	json_u64(f, "events", es->events, true);
	json_u64(f, "event_overruns", es->overruns, false);
	fputs("}", f);
	if (d->tap) {
		const struct tap_stats *ts = tap_stats(d->tap);
		const struct flow_stats *fs = flow_stats(d->flows);

		fputs(",\"tap\":{", f);
		json_u64(f, "packets", ts->packets, true);
		json_u64(f, "lost", ts->lost, true);
		json_u64(f, "overruns", ts->overruns, true);
		json_u64(f, "flows", flow_count(d->flows), true);
		json_u64(f, "flow_memory", flow_memory(d->flows), true);
		json_u64(f, "logins", fs->grants, true);
		fputs("\"drops\":{", f);
		json_u64(f, "malformed", fs->malformed, true);
		json_u64(f, "gap", fs->gaps, true);
		json_u64(f, "conflict", fs->conflicts, true);
		json_u64(f, "overflow", fs->overflow, true);
		json_u64(f, "aborted", fs->aborted, true);
		json_u64(f, "evicted", fs->evicted, true);
		json_u64(f, "unknown", fs->unknown, true);
		json_u64(f, "truncated", fs->truncated, true);
		json_u64(f, "csum_partial", fs->partial, false);
		fputs("},\"discarded\":{", f);
		json_u64(f, "all", fs->discarded, true);
		json_u64(f, "bad_csum", fs->bad_csum, true);
		json_u64(f, "no_ack", fs->no_ack, true);
		json_u64(f, "md5", fs->md5, true);
		json_u64(f, "window", fs->window, true);
		json_u64(f, "paws", fs->paws, true);
		json_u64(f, "bad_ack", fs->bad_ack, true);
		json_u64(f, "rst", fs->rst_ignored, true);
		json_u64(f, "syn", fs->syn_ignored, true);
		json_u64(f, "fin", fs->fin_ignored, false);
		fputs("},", f);
		json_u64(f, "done_added", d->tapdone ? tapdone_stats(d->tapdone)->added : 0, true);
		json_u64(f, "done_errors", d->tapdone ? tapdone_stats(d->tapdone)->errors : 0, false);
		fputs("}", f);
	}
	if (d->loghook) {
		const struct loghook_stats *ls = loghook_stats(d->loghook);

		fputs(",\"loghook\":{", f);
		json_u64(f, "lines", ls->lines, true);
		json_u64(f, "matched", ls->matched, true);
		json_u64(f, "overlong", ls->overlong, true);
		json_u64(f, "untrusted", ls->untrusted, true);
		json_u64(f, "journal_entries", ls->journal_entries, false);
		fputs("}", f);
	}
	if (d->rpc) {
		const struct rpcsrv_stats *rs = rpcsrv_stats(d->rpc);

		fputs(",\"rpc\":{", f);
		json_u64(f, "calls", rs->calls, true);
		json_u64(f, "granted", rs->granted, true);
		json_u64(f, "ignored", rs->ignored, true);
		json_u64(f, "refused", rs->refused, true);
		json_u64(f, "errors", rs->errors, true);
		json_u64(f, "malformed", rs->malformed, true);
		json_u64(f, "forged", rs->forged, true);
		json_u64(f, "conn_refused", rs->conn_refused, true);
		json_u64(f, "evicted", rs->evicted, true);
		json_u64(f, "not_unicast", rs->not_unicast, false);
		fputs("}", f);
	}
	if (d->fwd) {
		const struct rpcfwd_stats *fw = rpcfwd_stats(d->fwd);

		fputs(",\"forward\":{", f);
		json_u64(f, "sent", fw->sent, true);
		json_u64(f, "acked", fw->acked, true);
		json_u64(f, "failed", fw->failed, false);
		fputs("}", f);
	}
	if (d->share)
		share_json(d->share, f);
	if (d->policy) {
		const struct policy_stats *ps = policy_stats(d->policy);

		fprintf(f, ",\"policy\":{\"endpoint\":\"%s\",", policy_endpoint_name(d->policy));
		json_u64(f, "requests", ps->requests, true);
		json_u64(f, "ok", ps->ok, true);
		json_u64(f, "dunno", ps->dunno, true);
		json_u64(f, "malformed", ps->malformed, true);
		json_u64(f, "oversized", ps->oversized, true);
		json_u64(f, "connections", ps->connections, true);
		json_u64(f, "accepted", ps->accepted, true);
		json_u64(f, "evicted", ps->evicted, true);
		json_u64(f, "timeouts", ps->timeouts, false);
		fputs("}", f);
	}
	fputs("}\n", f);
}

static void share_json(const struct share *sh, FILE *f)
{
	const struct share_stats *st = share_stats(sh);

	fputs(",\"share\":{\"endpoint\":", f);
	json_str(f, share_endpoint(sh));
	fputs(",\"error\":", f);
	json_str(f, share_error(sh));
	fputc(',', f);
	json_u64(f, "connected", st->connected, true);
	json_u64(f, "subscribed", st->subscribed, true);
	json_u64(f, "connects", st->connects, true);
	json_u64(f, "disconnects", st->disconnects, true);
	json_u64(f, "auth_failures", st->auth_failures, true);
	json_u64(f, "queued", share_queued(sh), true);
	json_u64(f, "queued_peak", st->queued_peak, true);
	json_u64(f, "queue_overflow", st->queue_overflow, true);
	json_u64(f, "pushed", st->pushed, true);
	json_u64(f, "push_refused", st->push_refused, true);
	json_u64(f, "push_errors", st->push_errors, true);
	json_u64(f, "revokes_sent", st->revokes_sent, true);
	json_u64(f, "read_errors", st->read_errors, true);
	json_u64(f, "received", st->received, true);
	json_u64(f, "own", st->own, true);
	json_u64(f, "applied", st->applied, true);
	json_u64(f, "kept", st->kept, true);
	json_u64(f, "revokes_applied", st->revokes_applied, true);
	json_u64(f, "refused", st->refused, true);
	json_u64(f, "garbage", st->garbage, true);
	json_u64(f, "clamped", st->clamped, true);
	json_u64(f, "reconciles", st->reconciles, true);
	json_u64(f, "reconciled", st->reconciled, true);
	json_u64(f, "reconcile_ms", st->reconcile_ms, true);
	json_u64(f, "lag_ms", st->lag_ms, true);
	json_u64(f, "lag_max_ms", st->lag_max_ms, true);
	json_u64(f, "rtt_us", st->rtt_us, false);
	fputc('}', f);
}

/* dracd --clear-map: what a clean stop does to the map, for the init
 * script and the unit after dracd died.  As DRAC_USER, like dracd. */
static int clear_map(struct dracd *d)
{
	/* No probe: on a full disk the map must still be emptied (in place). */
	struct mirror_config mc = { .map_path = d->s.map_path, .no_probe = true };
	struct mirror *m;
	char err[512];
	int rc;

	/* The pid file's lock said no dracd runs; a root-owned directory
	 * such as /run is no place for the daemon user to clean up. */
	pidfile_remove();
	if (drop_privileges(d->s.user, err, sizeof(err)) < 0)
		msg_fatal("%s", err);
	/* No map, no grant in it (a dracd that never ran, or is disabled). */
	if (access(d->s.map_path, F_OK) < 0 && errno == ENOENT) {
		msg_info("no map %s: nothing to empty", d->s.map_path);
		return 0;
	}
	if (!(m = mirror_new(&mc)))
		return 1;
	mirror_load(m, wall_now());
	rc = mirror_shutdown(m);
	mirror_free(m);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "print-ruleset", no_argument, NULL, 'R' },
		{ "print-settings", no_argument, NULL, 'S' },
		{ "clear-map", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dracd d = { 0 };
	bool foreground = false, debug = false, empty = false;
	int print = 0, c;
	char err[512];

	log_init("dracd", LOG_TO_STDERR, 0);
	d.settings_path = access("/etc/sysconfig/dracd", F_OK) == 0 ? "/etc/sysconfig/dracd"
								   : "/etc/default/dracd";
	while ((c = getopt_long(argc, argv, "fdic:e:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = true; break;
		case 'd': debug = true; break;
		case 'i': empty = true; break;
		case 'c': d.settings_path = optarg; d.path_given = true; break;
		case 'e': d.window_arg = optarg; break;
		case 'o':
			if (d.n_overrides == MAX_OVERRIDES)
				msg_fatal("too many -o options");
			d.overrides[d.n_overrides++] = optarg;
			break;
		case 'R': print = 'R'; break;
		case 'S': print = 'S'; break;
		case 'C': print = 'C'; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		d.dbfile = argv[optind++];
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	log_init("dracd", LOG_TO_STDERR, debug);
	if (load_settings(&d, &d.s) < 0)
		return 1;
	if (print == 'R') {
		ruleset_print(&d.s, true, stdout);
		return 0;
	}
	if (print == 'S') {
		settings_print(&d.s, stdout);
		return 0;
	}
	if (user_check(d.s.user, err, sizeof(err)) < 0)
		msg_fatal("%s", err);
	if (pidfile_lock(d.s.pidfile, err, sizeof(err)) < 0)
		msg_fatal("%s", err);
	if (print == 'C')
		return clear_map(&d);
	if (!foreground) {
		if (daemon_detach() < 0)
			msg_fatal("cannot detach: %s", strerror(errno));
	}
	d.loop = loop_new();
	if (!d.loop)
		msg_fatal("cannot create the event loop: %s", strerror(errno));
	if (loop_signal(d.loop, SIGTERM, on_term, &d) < 0 ||
	    loop_signal(d.loop, SIGINT, on_term, &d) < 0 ||
	    loop_signal(d.loop, SIGHUP, on_hup, &d) < 0)
		msg_fatal("cannot handle signals: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	/* Root opens what needs root (netlink, sockets in /run), then drops
	 * to DRAC_USER; every file operation in the map directory, which
	 * that user can write, happens after the drop (gate_start). */
	d.gate = gate_new(d.loop, &d.s, d.s.tap, empty);
	if (!d.gate)
		return 1;
	loop_on_idle(d.loop, tapdone_idle, &d);
	if (apply_sources(&d, NULL, &d.s) < 0)
		return 1;
	/* Before the drop: the credentials file is root's. */
	if (*d.s.share && !(d.share = share_new(d.loop, d.gate, &d.s)))
		return 1;
	/* Made once: after dropping privileges it could not be made again
	 * in /run, so DRAC_CONTROL changes need a restart. */
	if (*d.s.control && !(d.control = control_open(d.loop, d.s.control, status_json, &d)))
		return 1;
	if (drop_privileges(d.s.user, err, sizeof(err)) < 0)
		msg_fatal("%s", err);
	if (gate_start(d.gate) < 0) {
		share_free(d.share);
		control_close(d.control);
		stop_sources(&d);
		gate_free(d.gate);
		settings_free(&d.s);
		loop_free(d.loop);
		return 1;
	}
	if (!foreground) {
		log_init("dracd", LOG_TO_SYSLOG, debug);
		daemon_ready();
	}
	if (d.share)
		share_start(d.share);
	msg_info("ready (pid %d)", (int)getpid());
	loop_run(d.loop);
	share_free(d.share);
	control_close(d.control);
	stop_sources(&d);
	gate_free(d.gate);
	settings_free(&d.s);
	pidfile_remove();
	loop_free(d.loop);
	return 0;
}
