/* ruleset.c - build and load table inet drac.
 *
 * The text is generated from the settings so that the shipped file
 * nft/drac.nft (printed with the defaults) and what the daemon loads
 * after a `nft flush ruleset` can never disagree.  libnftables parses
 * and commits it in one transaction; the hot path (elements) uses
 * libnftnl directly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "log.h"
#include "nftset.h"
#include "ruleset.h"
#include "tapdone.h"

static void print_list(FILE *f, const uint16_t *a, unsigned na, const uint16_t *b, unsigned nb)
{
	fputs("{ ", f);
	for (unsigned i = 0; i < na; i++)
		fprintf(f, "%s%u", i ? ", " : "", a[i]);
	for (unsigned i = 0; i < nb; i++)
		fprintf(f, "%s%u", i || na ? ", " : "", b[i]);
	fputs(" }", f);
}

static void print_ports(FILE *f, const struct settings *s)
{
	print_list(f, s->pop3_ports, s->n_pop3, s->imap_ports, s->n_imap);
}

/* The submission gate: new connections to the gated ports only from
 * granted addresses, trusted networks and loopback; the rest get a TCP
 * reset.  Only SYNs are judged, so a session that outlives its window
 * is not cut off in the middle of a message. */
static void print_gate(FILE *f, const struct settings *s)
{
	char buf[ADDR_STRLEN];

	/* Without DRAC_GATE_PORTS the chain is left as it is: a gate loaded
	 * from rules/submission.nft in nftables.conf stays in force. */
	if (!s->n_gate)
		return;
	fputs("flush chain inet drac gate\n", f);
	fputs("table inet drac {\n\tchain gate {\n", f);
	for (int v6 = 0; v6 < 2; v6++) {
		const char *ip = v6 ? "ip6" : "ip";
		int n = 0;

		fputs("\t\ttcp dport ", f);
		print_list(f, s->gate_ports, s->n_gate, NULL, 0);
		fprintf(f, " %s saddr @%s accept\n", ip, v6 ? NFTSET_V6 : NFTSET_V4);
		for (size_t i = 0; i < s->trusted.n; i++)
			if ((s->trusted.nets[i].addr.family == AF_INET6) == v6)
				n++;
		if (!n)
			continue;
		fputs("\t\ttcp dport ", f);
		print_list(f, s->gate_ports, s->n_gate, NULL, 0);
		fprintf(f, " %s saddr { ", ip);
		for (size_t i = 0, k = 0; i < s->trusted.n; i++)
			if ((s->trusted.nets[i].addr.family == AF_INET6) == v6)
				fprintf(f, "%s%s/%u", k++ ? ", " : "",
					addr_fmt(&s->trusted.nets[i].addr, buf, sizeof(buf)),
					s->trusted.nets[i].prefix);
		fputs(" } accept\n", f);
	}
	fputs("\t\tiif lo accept\n\t\ttcp dport ", f);
	print_list(f, s->gate_ports, s->n_gate, NULL, 0);
	fputs(" tcp flags & (syn | ack) == syn reject with tcp reset\n\t}\n}\n", f);
}

static void print_sets(FILE *f, const struct settings *s)
{
	unsigned long long secs = s->window_ms / 1000;
	char timeout[32];

	if (secs % 60 == 0)
		snprintf(timeout, sizeof(timeout), "%llum", secs / 60);
	else
		snprintf(timeout, sizeof(timeout), "%llus", secs);
	for (int v6 = 0; v6 < 2; v6++)
		fprintf(f,
			"\tset %s {\n"
			"\t\ttype %s\n"
			"\t\tflags timeout\n"
			"\t\ttimeout %s\n"
			"\t}\n",
			v6 ? NFTSET_V6 : NFTSET_V4, v6 ? "ipv6_addr" : "ipv4_addr", timeout);
}

/* The sets of finished connections (tapdone.h).  Declared with the
 * table so that a flush of the tap chains keeps their elements. */
static void print_done_sets(FILE *f)
{
	for (int v6 = 0; v6 < 2; v6++)
		fprintf(f,
			"\tset %s {\n"
			"\t\ttype %s . inet_service . %s . inet_service\n"
			"\t\tsize %u\n"
			"\t\tflags dynamic,timeout\n"
			"\t\ttimeout %us\n"
			"\t}\n",
			v6 ? TAPDONE_V6 : TAPDONE_V4, v6 ? "ipv6_addr" : "ipv4_addr",
			v6 ? "ipv6_addr" : "ipv4_addr", TAPDONE_SIZE, TAPDONE_TIMEOUT_MS / 1000);
}

static void print_tap(FILE *f, const struct settings *s)
{
	char log[128];

	snprintf(log, sizeof(log), "log group %u snaplen 4096 queue-threshold 1", s->nflog_group);
	fprintf(f,
		"flush chain inet drac tap_in\n"
		"flush chain inet drac tap_out\n"
		"flush chain inet drac tap\n"
		"table inet drac {\n"
		"\t# Client to server: packets that reached this host, after the\n"
		"\t# filter chains (priority 100), so only what the server gets.\n"
		"\t# A client SYN first deletes its 4-tuple from the finished\n"
		"\t# connections, so a new connection is copied from its start;\n"
		"\t# the rest of a finished one is not copied, but SYN, FIN, RST.\n"
		"\t# Every rule names the ports: what matches none (another port,\n"
		"\t# a non-first IPv6 fragment) falls through uncopied.  A first\n"
		"\t# IPv6 fragment is always copied, also on a finished 4-tuple:\n"
		"\t# it may complete into bytes of a new connection there.\n"
		"\tchain tap_in {\n");
	for (int r = 0; r < 6; r++) {
		static const char *const rule[] = {
			"tcp flags & (syn | ack) == syn delete @" TAPDONE_V4
			" { ip saddr . tcp sport . ip daddr . tcp dport }",
			"tcp flags & (syn | ack) == syn delete @" TAPDONE_V6
			" { ip6 saddr . tcp sport . ip6 daddr . tcp dport }",
			"frag more-fragments 1 jump tap",
			"tcp flags & (syn | fin | rst) == 0 ip saddr . tcp sport . ip daddr . tcp dport @"
			TAPDONE_V4 " accept",
			"tcp flags & (syn | fin | rst) == 0 ip6 saddr . tcp sport . ip6 daddr . tcp dport @"
			TAPDONE_V6 " accept",
			"jump tap",
		};

		fputs("\t\ttcp dport ", f);
		print_ports(f, s);
		fprintf(f, " %s\n", rule[r]);
	}
	fputs("\t}\n"
	      "\t# Server to client: what the local server really sent.\n"
	      "\tchain tap_out {\n", f);
	for (int r = 0; r < 3; r++) {
		static const char *const rule[] = {
			"tcp flags & (syn | fin | rst) == 0 ip daddr . tcp dport . ip saddr . tcp sport @"
			TAPDONE_V4 " accept",
			"tcp flags & (syn | fin | rst) == 0 ip6 daddr . tcp dport . ip6 saddr . tcp sport @"
			TAPDONE_V6 " accept",
			"jump tap",
		};

		fputs("\t\ttcp sport ", f);
		print_ports(f, s);
		fprintf(f, " %s\n", rule[r]);
	}
	fprintf(f, "\t}\n"
		"\t# SYN, FIN and RST open and close flows; of the rest only\n"
		"\t# segments that may carry payload: pure ACKs of the usual\n"
		"\t# header sizes are skipped.  Everything else is copied, also\n"
		"\t# what is longer than the snap length: it arrives cut, which\n"
		"\t# ends a flow still waiting for its login.  Queue threshold 1:\n"
		"\t# no batching delay in the kernel.\n"
		"\tchain tap {\n"
		"\t\ttcp flags & (syn | fin | rst) != 0 %s accept\n"
		"\t\tip length 40 ip hdrlength 5 tcp doff 5 accept\n"
		"\t\tip length 52 ip hdrlength 5 tcp doff 8 accept\n"
		"\t\tip6 nexthdr tcp ip6 length 20 tcp doff 5 accept\n"
		"\t\tip6 nexthdr tcp ip6 length 32 tcp doff 8 accept\n"
		"\t\t%s\n"
		"\t}\n"
		"}\n", log, log);
}

void ruleset_print(const struct settings *s, bool tap, FILE *f)
{
	fprintf(f,
		"# table inet drac: who may relay after a POP3/IMAP login.\n"
		"# Generated by dracd --print-ruleset; dracd loads the same text\n"
		"# and reloads it after a firewall reload.  Safe to load again.\n"
		"table inet drac {\n");
	print_sets(f, s);
	if (tap)
		print_done_sets(f);
	if (tap)
		fprintf(f,
			"\tchain tap_in {\n"
			"\t\ttype filter hook input priority 100; policy accept;\n"
			"\t}\n"
			"\tchain tap_out {\n"
			"\t\ttype filter hook output priority 100; policy accept;\n"
			"\t}\n"
			"\tchain tap {\n"
			"\t}\n");
	fprintf(f,
		"\t# The submission gate (DRAC_GATE_PORTS); empty when unset.\n"
		"\tchain gate {\n"
		"\t\ttype filter hook input priority -10; policy accept;\n"
		"\t}\n"
		"}\n");
	if (tap)
		print_tap(f, s);
	print_gate(f, s);
}

static int run(struct nft_ctx *ctx, const char *text, char *err, size_t errlen)
{
	if (nft_run_cmd_from_buffer(ctx, text) == 0)
		return 0;
	snprintf(err, errlen, "%s", nft_ctx_get_error_buffer(ctx));
	/* one line is enough for the log */
	for (char *p = err; *p; p++)
		if (*p == '\n')
			*p = (p[1] ? ' ' : '\0');
	return -1;
}

int ruleset_apply(const struct settings *s, bool tap, char *err, size_t errlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (!ctx) {
		snprintf(err, errlen, "cannot create nftables context");
		return -1;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	f = open_memstream(&text, &len);
	if (!f) {
		nft_ctx_free(ctx);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ruleset_print(s, tap, f);
	fclose(f);
	rc = run(ctx, text, err, errlen);
	if (rc < 0) {
		/* A set made earlier with another default timeout is not
		 * "the same set": keep it (and its elements) and load the
		 * rest without the set declarations. */
		struct settings same = *s;
		char err2[512];

		free(text);
		text = NULL;
		f = open_memstream(&text, &len);
		if (f) {
			fprintf(f, "add table inet drac\n");
			if (tap) {
				fprintf(f, "table inet drac {\n");
				print_done_sets(f);
				fprintf(f, "}\n");
				fprintf(f, "add chain inet drac tap_in { type filter hook input priority 100; policy accept; }\n"
					   "add chain inet drac tap_out { type filter hook output priority 100; policy accept; }\n"
					   "add chain inet drac tap\n");
				print_tap(f, &same);
			}
			fprintf(f, "add chain inet drac gate { type filter hook input priority -10; policy accept; }\n");
			print_gate(f, &same);
			fclose(f);
			if (ruleset_present() == 1 && run(ctx, text, err2, sizeof(err2)) == 0) {
				msg_warn("table inet drac: kept the existing sets (%s)", err);
				rc = 0;
			}
		}
	}
	free(text);
	nft_ctx_free(ctx);
	return rc;
}

int ruleset_present(void)
{
	struct nftset *ns = nftset_open();
	int rc;

	if (!ns)
		return -1;
	rc = nftset_exists(ns, AF_INET);
	if (rc == 1)
		rc = nftset_exists(ns, AF_INET6);
	nftset_close(ns);
	return rc;
}
