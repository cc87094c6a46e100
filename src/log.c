/* log.c - messages go to stderr in the foreground, to syslog as a daemon */
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

#include "log.h"

static const char *log_ident = "drac";
static enum log_target log_target = LOG_TO_STDERR;
static int log_debug;

void log_init(const char *ident, enum log_target target, int debug)
{
	log_ident = ident;
	log_target = target;
	log_debug = debug;
	if (target == LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void vmsg(int prio, const char *fmt, va_list ap)
{
	if (log_target == LOG_TO_SYSLOG) {
		vsyslog(prio, fmt, ap);
		return;
	}
	fprintf(stderr, "%s: ", log_ident);
	if (prio == LOG_WARNING)
		fputs("warning: ", stderr);
	else if (prio <= LOG_ERR)
		fputs("error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

#define DEFINE_MSG(name, prio)                   \
	void name(const char *fmt, ...)          \
	{                                        \
		va_list ap;                      \
		va_start(ap, fmt);               \
		vmsg(prio, fmt, ap);             \
		va_end(ap);                      \
	}

DEFINE_MSG(msg_info, LOG_INFO)
DEFINE_MSG(msg_warn, LOG_WARNING)
DEFINE_MSG(msg_err, LOG_ERR)

void msg_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug)
		return;
	va_start(ap, fmt);
	vmsg(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void msg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
