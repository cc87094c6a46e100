/* imap.h - IMAP login detection on the two byte streams of one connection
 *
 * Grants on the server's tagged OK to a LOGIN or AUTHENTICATE command
 * (RFC 3501, 9051, 7888 LITERAL+/-, 4959 SASL-IR).  The client stream is
 * parsed as far as needed to know where each command ends (atoms, quoted
 * strings, literals) and the tag and name of each command; nothing is
 * stored but the tags of the unanswered commands.  Wherever a server
 * could read the client's bytes differently from us (a literal the
 * server has not yet accepted, a line before a SASL challenge, a
 * non-synchronizing literal after a construct some server rejects), the
 * machine stops without a grant instead of guessing.
 */
#ifndef DRAC_IMAP_H
#define DRAC_IMAP_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define IMAP_TAG_MAX      16    /* longer client tags end inspection */
#define IMAP_PENDING_MAX  8     /* commands sent and not yet answered */
#define IMAP_WORD_MAX     12    /* command names, response words, caps */
#define IMAP_LINE_MAX     8192  /* client command line, literals excluded */
#define IMAP_SASL_MAX     65536 /* AUTHENTICATE line or SASL response line */
#define IMAP_SRV_MAX      65536 /* server line, literals excluded */
#define IMAP_LITERAL_MAX  65536 /* one literal, either direction */
#define IMAP_NONSYNC_MAX  4096  /* one {n+} literal (RFC 7888 LITERAL-) */

/* One unanswered command. */
struct imap_cmd {
	uint8_t tag[IMAP_TAG_MAX];
	uint8_t tag_len;
	uint8_t kind; /* K_* in imap.c */
};

struct imap {
	struct imap_cmd pending[IMAP_PENDING_MAX]; /* in the order sent */
	struct imap_cmd next;   /* tag of the command line being read */
	uint8_t npending;
	uint8_t verdict;        /* enum proto_verdict */
	uint8_t reason;         /* enum proto_reason */
	uint8_t greeted;        /* the server's greeting was "* OK" */
	uint8_t nonsync;        /* server advertised LITERAL+, LITERAL- or rev2 */
	uint8_t c_owed;         /* "{n+}" literals sent without LITERAL+ that the
				 * server has not yet said "+" to */

	/* client -> server */
	uint8_t c_state;
	uint8_t c_open;         /* the last pending command is still being sent */
	uint8_t c_clean;        /* nothing on this line any server could reject */
	uint8_t c_depth;        /* parenthesis depth */
	uint8_t c_argn;         /* top-level arguments begun */
	uint8_t c_litf;         /* literal header: digits seen, '+' seen */
	uint8_t c_lf;           /* the last command line ended in a bare LF */
	uint8_t c_wlen;
	uint8_t c_word[IMAP_WORD_MAX]; /* command name, upper case */
	uint8_t c_alen;
	uint8_t c_arg[IMAP_WORD_MAX];  /* first argument: user or mechanism */
	uint32_t c_len;         /* octets of the line, literals excluded */
	uint32_t c_lit;         /* literal octets still to come */
	uint32_t c_total;       /* octets of the line, literals included */

	/* server -> client */
	uint8_t s_state;
	uint8_t s_tagged;       /* the line is a tagged response */
	uint8_t s_idx;          /* the pending command it answers */
	uint8_t s_tpos;         /* octets of the tag read */
	uint8_t s_match;        /* bit i: pending[i] may still be the tag */
	uint8_t s_lst;          /* "{n}" at the end of a data line */
	uint8_t s_wlen;
	uint8_t s_word[IMAP_WORD_MAX];
	uint32_t s_len;
	uint32_t s_lit;
};

void imap_init(struct imap *m);
/* Feed the next octets of one direction, in the order they were seen.
 * Returns PROTO_GRANT once, on the server's OK to a login; PROTO_DONE or
 * PROTO_ABORT when inspection ends without one (imap_reason() says why).
 * After any verdict but PROTO_CONTINUE the caller stops feeding. */
enum proto_verdict imap_feed(struct imap *m, enum proto_dir dir,
			     const uint8_t *data, size_t len);
enum proto_reason imap_reason(const struct imap *m);

#endif
