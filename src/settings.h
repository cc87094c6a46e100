/* settings.h - /etc/sysconfig/dracd (or /etc/default/dracd): the daemon's
 * settings, their defaults and their bounds, in one table */
#ifndef DRAC_SETTINGS_H
#define DRAC_SETTINGS_H

#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define SETTINGS_MAX_PORTS 8

struct settings {
	bool enable;                /* ENABLE_DRAC: only the init script reads it */
	uint64_t window_ms;         /* EXPIRE_TIME */
	char map_path[PATH_MAX];    /* DRAC_MAP */
	bool tap;                   /* DRAC_TAP */
	unsigned nflog_group;       /* DRAC_NFLOG_GROUP */
	uint16_t pop3_ports[SETTINGS_MAX_PORTS];
	unsigned n_pop3;            /* DRAC_POP3_PORTS */
	uint16_t imap_ports[SETTINGS_MAX_PORTS];
	unsigned n_imap;            /* DRAC_IMAP_PORTS */
	struct netlist trusted;     /* DRAC_TRUSTED */
	uint16_t gate_ports[SETTINGS_MAX_PORTS];
	unsigned n_gate;            /* DRAC_GATE_PORTS: submission gate */
	unsigned max_flows;         /* DRAC_MAX_FLOWS */
	unsigned event_buffer;      /* DRAC_EVENT_BUFFER: bytes */
	unsigned write_interval_ms; /* DRAC_MAP_INTERVAL */
	char loghook_socket[PATH_MAX]; /* DRAC_LOGHOOK_SOCKET */
	char loghook_file[PATH_MAX];   /* DRAC_LOGHOOK_FILE */
	bool loghook_stdin;            /* DRAC_LOGHOOK_STDIN */
	char loghook_journal[1024];    /* DRAC_LOGHOOK_JOURNAL: trusted-field match */
	char loghook_uids[256];        /* DRAC_LOGHOOK_UIDS: socket senders */
	bool rpc;                   /* DRAC_RPC */
	char allow_path[PATH_MAX];  /* DRAC_ALLOW */
	bool forward;               /* DRAC_FORWARD */
	char conf_path[PATH_MAX];   /* DRAC_SERVERS */
	char user[64];              /* DRAC_USER: "" keeps root */
	char pidfile[PATH_MAX];     /* DRAC_PIDFILE */
	char control[PATH_MAX];     /* DRAC_CONTROL: status socket */
	char policy[PATH_MAX];      /* DRAC_POLICY: "", unix:PATH, inet:ADDR:PORT */
	bool rpc_udp;               /* DRAC_RPC_UDP: no serves RPC over TCP only */
	char share[PATH_MAX + 16];  /* DRAC_SHARE: "", redis://..., unix:PATH */
	char share_auth[PATH_MAX];  /* DRAC_SHARE_AUTH: credentials file */
	char share_sentinels[1024]; /* DRAC_SHARE_SENTINELS */
	char share_master[128];     /* DRAC_SHARE_MASTER */
	char share_prefix[64];      /* DRAC_SHARE_PREFIX */
	unsigned share_queue;       /* DRAC_SHARE_QUEUE */
};

/* Fill with the built-in defaults. */
void settings_defaults(struct settings *s);
/* Read a shell-style KEY="value" file over the current values.  A missing
 * file is an error only when must_exist.  Errors read "FILE:LINE: ...". */
int settings_load(struct settings *s, const char *path, bool must_exist,
		  char *err, size_t errlen);
/* One KEY=VALUE, as from the file or from dracd -o. */
int settings_set(struct settings *s, const char *key, const char *value,
		 char *err, size_t errlen);
void settings_free(struct settings *s);
/* Print every setting in the file's syntax (dracd --print-settings). */
void settings_print(const struct settings *s, FILE *f);

/* "30" (minutes, as EXPIRE_TIME and rpc.dracd -e), "90s", "45m", "2h",
 * "1d"; bounded to 1 s .. 31 days. */
int parse_window(const char *s, uint64_t *ms, char *err, size_t errlen);

#endif
