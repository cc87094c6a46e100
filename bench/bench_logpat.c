/* bench_logpat.c - log lines per second through logpat_match on one core
 * for a realistic mail.log mix (mostly Postfix and Dovecot chatter, one
 * line in ten a login), and through the whole log hook reading a file
 * on standard input.  Floor: 500,000 lines/s for the matcher. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loghook.h"
#include "logpat.h"
#include "loop.h"

#define FLOOR 500000.0

static const char *const mix[] = {
	"Nov 27 21:00:00 mx postfix/smtpd[4711]: connect from unknown[192.0.2.45]",
	"Nov 27 21:00:00 mx postfix/smtpd[4711]: 4F1C23E0A1: client=unknown[192.0.2.45]",
	"Nov 27 21:00:00 mx postfix/cleanup[4712]: 4F1C23E0A1: message-id=<20261127210000.4F1C23E0A1@mx.example.org>",
	"Nov 27 21:00:00 mx postfix/qmgr[900]: 4F1C23E0A1: from=<alice@example.org>, size=2345, nrcpt=1 (queue active)",
	"Nov 27 21:00:00 mx postfix/smtp[4713]: 4F1C23E0A1: to=<bob@example.net>, relay=mx.example.net[198.51.100.25]:25, delay=0.4, delays=0.1/0/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1234)",
	"Nov 27 21:00:00 mx postfix/qmgr[900]: 4F1C23E0A1: removed",
	"Nov 27 21:00:00 mx postfix/smtpd[4711]: disconnect from unknown[192.0.2.45] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7",
	"Nov 27 21:00:00 mx postfix/smtpd[4711]: NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 <x@example.com>: Relay access denied; from=<spam@example.com> to=<x@example.com> proto=ESMTP helo=<spam>",
	"Nov 27 21:00:00 mx dovecot: pop3(alice)<9114><yJK8u0hhdLN/AAAB>: Disconnected: Logged out top=0/0, retr=1/2454, del=1/1, size=2437",
	"Nov 27 21:00:00 mx dovecot: imap(bob)<9118><9Zy9u0hh+pZ/AAAB>: Disconnected: Logged out in=8 out=468 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
	"Nov 27 21:00:00 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<carol>, method=PLAIN, rip=203.0.113.9, lip=192.0.2.1, TLS, session=<VlvCvkhh8okAAAAA>",
	"Nov 27 21:00:00 mx dovecot: auth: passwd-file(mallory,203.0.113.9): unknown user",
	"Nov 27 21:00:00 mx dovecot: pop3-login: Aborted login (no auth attempts in 0 secs): user=<>, rip=203.0.113.9, lip=192.0.2.1, TLS handshaking: SSL_accept() failed, session=<x>",
	"Nov 27 21:00:00 mx CRON[5000]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
	"Nov 27 21:00:00 mx dovecot: pop3-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.7, lip=192.0.2.1, mpid=9116, TLS, session=<tyO9u0hh3Oh/AAAB>",
	"Nov 27 21:00:00 mx dovecot: imap-login: Login: user=<bob@example.org>, method=PLAIN, rip=2001:db8::7, lip=2001:db8::1, mpid=9118, TLS, session=<9Zy9u0hh+pZ/AAAB>",
	"Nov 27 21:00:00 mx pop3d-ssl: LOGIN, user=joe, ip=[::ffff:192.0.2.8], port=[51234], protocol=POP3S",
	"Nov 27 21:00:00 mx postfix/smtpd[4711]: connect from unknown[192.0.2.46]",
	"Nov 27 21:00:00 mx postfix/smtpd[4711]: lost connection after AUTH from unknown[203.0.113.9]",
	"Nov 27 21:00:00 mx postfix/anvil[4714]: statistics: max connection rate 1/60s for (smtp:192.0.2.45) at Nov 27 20:58:00",
};
#define NMIX (sizeof(mix) / sizeof(*mix))

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int grants;

static int count_grant(const struct drac_addr *a, enum grant_source s, void *arg)
{
	grants++;
	return 0;
}

static void stop_when_done(void *arg)
{
	loop_stop(arg);
}

int main(void)
{
	size_t lens[NMIX];
	struct drac_addr a;
	const char *srv;
	uint64_t t0, t1;
	unsigned long n = 0, matched = 0;
	struct utsname u;
	char model[256] = "?", line[512];
	FILE *f;
	double rate;

	log_init("bench_logpat", LOG_TO_STDERR, 0);
	if (uname(&u) == 0 && (f = fopen("/proc/cpuinfo", "r"))) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "model name : %255[^\n]", model) == 1)
				break;
		fclose(f);
	}
	printf("machine: %s, %ld cores, kernel %s\n", model, sysconf(_SC_NPROCESSORS_ONLN),
	       u.release);

	for (size_t i = 0; i < NMIX; i++)
		lens[i] = strlen(mix[i]);
	t0 = now_ns();
	for (int round = 0; round < 250000; round++)
		for (size_t i = 0; i < NMIX; i++, n++)
			matched += logpat_match(mix[i], lens[i], &a, &srv);
	t1 = now_ns();
	rate = n / ((t1 - t0) / 1e9);
	printf("logpat_match: %lu lines (%lu logins) in %.3f s: %.0f lines/s on one core (floor %.0f): %s\n",
	       n, matched, (t1 - t0) / 1e9, rate, FLOOR, rate >= FLOOR ? "ok" : "BELOW FLOOR");

	/* the whole hook: a 1,000,000-line file on standard input */
	{
		char path[] = "/tmp/drac-bench-logpat.XXXXXX";
		int fd = mkstemp(path);
		struct loop *l = loop_new();
		struct loghook_config cfg = { .use_stdin = 1 };
		struct loghook *h;
		struct loop_timer *t;
		FILE *w;
		unsigned long lines = 1000000;

		if (fd < 0 || !l)
			return 1;
		w = fdopen(fd, "w");
		for (unsigned long i = 0; i < lines; i++)
			fprintf(w, "%s\n", mix[i % NMIX]);
		fflush(w);
		lseek(fd, 0, SEEK_SET);
		dup2(fd, 0);
		h = loghook_new(l, &cfg, count_grant, NULL);
		if (!h)
			return 1;
		t = loop_timer_new(l, stop_when_done, l);
		t0 = now_ns();
		/* run until every line was read */
		while (loghook_stats(h)->lines < lines) {
			loop_timer_after(t, 10);
			loop_run(l);
		}
		t1 = now_ns();
		printf("loghook (file on stdin): %lu lines, %d grants in %.3f s: %.0f lines/s\n",
		       lines, grants, (t1 - t0) / 1e9, lines / ((t1 - t0) / 1e9));
		loop_timer_free(t);
		loghook_free(h);
		loop_free(l);
		fclose(w);
		unlink(path);
	}
	return 0;
}
