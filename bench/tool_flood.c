/* tool_flood.c - paced raw TCP/IPv4 segments for bench/tap_rate.sh.
 *
 *   tool_flood [-r PPS] [-s SECONDS | -c COUNT] [-m data|syn] [-n TUPLES]
 *              [-d DST] [-p PORT] [-b BATCH]
 *
 * data: ACK|PSH segments carrying "NOOP\r\n" (IP length 46: the tap
 * logs them); syn: SYNs.  Sources rotate over TUPLES distinct
 * (127.x.y.z, port) pairs, so in syn mode every one of the first TUPLES
 * packets opens its own flow in dracd.  Sent with sendmmsg in batches,
 * paced to PPS against CLOCK_MONOTONIC (a sender that falls behind sends
 * back to back; with -s it stops at the deadline).  Prints one line:
 *   sent N in S s = R pps (cpu C s, short batches K)
 * Run it inside a throwaway network namespace: it spoofs 127/8 sources
 * towards DST (default 127.0.0.1). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 256
#define PAYLOAD "NOOP\r\n"

struct pkt {
	struct iphdr ip;
	struct tcphdr tcp;
	char data[sizeof(PAYLOAD) - 1];
} __attribute__((packed));

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

/* The i-th source: 127.1.0.0 + i (wrapping inside 127/8) and a port. */
static void fill(struct pkt *p, uint64_t i, uint64_t tuples, uint32_t dst, uint16_t dport,
		 int syn)
{
	uint64_t k = i % tuples;
	uint32_t src = 0x7f010000u + (uint32_t)(k % 0xfe0000u);
	size_t tcplen = sizeof(p->tcp) + (syn ? 0 : sizeof(p->data));
	uint32_t sum;

	memset(p, 0, sizeof(*p));
	p->ip.version = 4;
	p->ip.ihl = 5;
	p->ip.ttl = 64;
	p->ip.protocol = IPPROTO_TCP;
	p->ip.tot_len = htons(sizeof(p->ip) + tcplen);
	p->ip.saddr = htonl(src);
	p->ip.daddr = dst;
	p->tcp.source = htons(20000 + k % 40000);
	p->tcp.dest = htons(dport);
	p->tcp.seq = htonl((uint32_t)(k * 2654435761u + (syn ? 0 : 1 + (i / tuples) * 6)));
	p->tcp.doff = 5;
	p->tcp.window = htons(65535);
	if (syn) {
		p->tcp.syn = 1;
	} else {
		p->tcp.ack = 1;
		p->tcp.psh = 1;
		p->tcp.ack_seq = htonl(1);
		memcpy(p->data, PAYLOAD, sizeof(p->data));
	}
	/* pseudo-header: addresses, protocol, TCP length */
	sum = csum_add(0, &p->ip.saddr, 8);
	sum += IPPROTO_TCP + (uint32_t)tcplen;
	sum = csum_add(sum, &p->tcp, tcplen);
	p->tcp.check = htons(csum_fold(sum));
}

int main(int argc, char **argv)
{
	uint64_t rate = 100000, count = 0, tuples = 65536, sent = 0, shorts = 0;
	double secs = 2;
	unsigned batch = 32;
	int syn = 0, opt, fd, one = 1;
	const char *dst_s = "127.0.0.1";
	uint16_t port = 110;
	struct sockaddr_in dst = { .sin_family = AF_INET };
	static struct pkt pk[MAX_BATCH];
	struct mmsghdr mm[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	struct rusage ru;

	while ((opt = getopt(argc, argv, "r:s:c:m:n:d:p:b:")) != -1) {
		switch (opt) {
		case 'r': rate = strtoull(optarg, NULL, 10); break;
		case 's': secs = atof(optarg); break;
		case 'c': count = strtoull(optarg, NULL, 10); break;
		case 'm': syn = strcmp(optarg, "syn") == 0; break;
		case 'n': tuples = strtoull(optarg, NULL, 10); break;
		case 'd': dst_s = optarg; break;
		case 'p': port = (uint16_t)atoi(optarg); break;
		case 'b': batch = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: tool_flood [-r PPS] [-s SECONDS | -c COUNT] "
					"[-m data|syn] [-n TUPLES] [-d DST] [-p PORT] [-b BATCH]\n");
			return 2;
		}
	}
	if (!rate || !tuples || !batch || batch > MAX_BATCH ||
	    inet_pton(AF_INET, dst_s, &dst.sin_addr) != 1) {
		fprintf(stderr, "tool_flood: bad arguments\n");
		return 2;
	}
	/* -s: stop at the deadline, whatever the sender managed by then */
	uint64_t stop_ns = count ? UINT64_MAX : (uint64_t)(secs * 1e9);

	if (!count)
		count = (uint64_t)(rate * secs);
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) < 0) {
		perror("tool_flood: raw socket");
		return 1;
	}
	memset(mm, 0, sizeof(mm));
	for (unsigned j = 0; j < batch; j++) {
		iov[j].iov_base = &pk[j];
		mm[j].msg_hdr.msg_iov = &iov[j];
		mm[j].msg_hdr.msg_iovlen = 1;
		mm[j].msg_hdr.msg_name = &dst;
		mm[j].msg_hdr.msg_namelen = sizeof(dst);
	}

	uint64_t t0 = mono_ns(), period = 1000000000u * (uint64_t)batch / rate, next = t0;

	while (sent < count) {
		unsigned n = count - sent < batch ? (unsigned)(count - sent) : batch;
		uint64_t now = mono_ns();

		if (now - t0 >= stop_ns)
			break;

		if (next > now) {
			struct timespec ts = { .tv_sec = next / 1000000000u,
					       .tv_nsec = next % 1000000000u };

			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		for (unsigned j = 0; j < n; j++) {
			fill(&pk[j], sent + j, tuples, dst.sin_addr.s_addr, port, syn);
			iov[j].iov_len = ntohs(pk[j].ip.tot_len);
		}
		int r = sendmmsg(fd, mm, n, 0);

		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
				shorts++;
				continue;
			}
			perror("tool_flood: sendmmsg");
			return 1;
		}
		if ((unsigned)r < n)
			shorts++;
		sent += r;
		next += period * r / n;
	}
	double el = (mono_ns() - t0) / 1e9;

	getrusage(RUSAGE_SELF, &ru);
	printf("sent %llu in %.3f s = %.0f pps (cpu %.3f s, short batches %llu)\n",
	       (unsigned long long)sent, el, sent / el,
	       ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
	       (unsigned long long)shorts);
	return 0;
}
