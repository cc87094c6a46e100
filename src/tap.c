/* tap.c - receive the tap's packets through libnetfilter_log.
 *
 * Measured here: the default 212 KB socket buffer drops packets from
 * about 50k packets/s, so we start at 4 MB and grow on ENOBUFS up to a
 * bound.  Lost packets are also visible as gaps in the per-group
 * sequence numbers (NFULNL_CFG_F_SEQ); the flows they belonged to see a
 * TCP gap and are dropped without a grant.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libnetfilter_log/libnetfilter_log.h>
#include <libnfnetlink/libnfnetlink.h>
#include <linux/netfilter.h>

#include "log.h"
#include "tap.h"

#define TAP_RCVBUF_START (4u << 20)
#define TAP_RCVBUF_MAX (64u << 20)

struct tap {
	struct loop *loop;
	struct nflog_handle *h;
	struct nflog_g_handle *gh;
	int fd;
	unsigned group;
	tap_packet_fn fn;
	void *arg;
	struct tap_stats st;
	uint32_t next_seq;
	bool have_seq, warned;
};

static int tap_cb(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg, struct nflog_data *nfa,
		  void *data)
{
	struct tap *t = data;
	struct nfulnl_msg_packet_hdr *ph = nflog_get_msg_packet_hdr(nfa);
	char *payload;
	int len = nflog_get_payload(nfa, &payload);
	uint32_t seq;

	t->st.packets++;
	if (nflog_get_seq(nfa, &seq) == 0) {
		if (t->have_seq && seq != t->next_seq)
			t->st.lost += seq - t->next_seq;
		t->next_seq = seq + 1;
		t->have_seq = true;
	}
	if (!ph || len <= 0 || (nfmsg->nfgen_family != AF_INET && nfmsg->nfgen_family != AF_INET6)) {
		t->st.errors++;
		return 0;
	}
	/* Loopback is ifindex 1 in every namespace (LOOPBACK_IFINDEX). */
	t->fn(t->arg, nfmsg->nfgen_family,
	      (ph->hook == NF_INET_LOCAL_OUT ? TAP_OUT : 0) | (nflog_get_indev(nfa) == 1 ? TAP_LO : 0),
	      (const uint8_t *)payload, (size_t)len);
	return 0;
}

static void tap_grow(struct tap *t)
{
	unsigned size = t->st.rcvbuf * 2;

	if (size > TAP_RCVBUF_MAX)
		size = TAP_RCVBUF_MAX;
	if (size != t->st.rcvbuf) {
		t->st.rcvbuf = nfnl_rcvbufsiz(nflog_nfnlh(t->h), size);
		msg_warn("NFLOG group %u: packets lost (receive buffer full); buffer now %u bytes",
			 t->group, t->st.rcvbuf);
	} else if (!t->warned) {
		msg_warn("NFLOG group %u: packets lost at the largest buffer (%u bytes); "
			 "further losses are only counted", t->group, size);
		t->warned = true;
	}
}

static void tap_ready(int fd, uint32_t events, void *arg)
{
	struct tap *t = arg;
	char buf[65536] __attribute__((aligned));

	/* Bounded so that one busy source cannot starve the others. */
	for (int i = 0; i < 256; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == ENOBUFS) {
				t->st.overruns++;
				tap_grow(t);
				continue;
			}
			if (errno != EAGAIN && errno != EINTR) {
				t->st.errors++;
				msg_err("NFLOG group %u: %s", t->group, strerror(errno));
			}
			return;
		}
		nflog_handle_packet(t->h, buf, n);
	}
}

struct tap *tap_open(struct loop *l, unsigned group, tap_packet_fn fn, void *arg)
{
	struct tap *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->loop = l;
	t->group = group;
	t->fn = fn;
	t->arg = arg;
	t->fd = -1;
	t->h = nflog_open();
	if (!t->h) {
		msg_err("cannot open NFLOG: %s", strerror(errno));
		goto bad;
	}
	t->gh = nflog_bind_group(t->h, group);
	if (!t->gh) {
		msg_err("cannot bind NFLOG group %u: %s%s", group, strerror(errno),
			errno == EPERM || errno == EBUSY ? " (another program has it?)" : "");
		goto bad;
	}
	if (nflog_set_mode(t->gh, NFULNL_COPY_PACKET, 0xffff) < 0 ||
	    nflog_set_qthresh(t->gh, 1) < 0 || nflog_set_timeout(t->gh, 0) < 0 ||
	    nflog_set_flags(t->gh, NFULNL_CFG_F_SEQ) < 0) {
		msg_err("cannot configure NFLOG group %u: %s", group, strerror(errno));
		goto bad;
	}
	nflog_callback_register(t->gh, tap_cb, t);
	t->st.rcvbuf = nfnl_rcvbufsiz(nflog_nfnlh(t->h), TAP_RCVBUF_START);
	t->fd = nflog_fd(t->h);
	if (loop_add_fd(l, t->fd, EPOLLIN, tap_ready, t) < 0) {
		msg_err("cannot watch NFLOG socket: %s", strerror(errno));
		t->fd = -1;
		goto bad;
	}
	return t;
bad:
	tap_close(t);
	return NULL;
}

void tap_close(struct tap *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		loop_del_fd(t->loop, t->fd);
	if (t->gh)
		nflog_unbind_group(t->gh);
	if (t->h)
		nflog_close(t->h);
	free(t);
}

const struct tap_stats *tap_stats(const struct tap *t)
{
	return &t->st;
}
