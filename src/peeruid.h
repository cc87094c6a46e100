/* peeruid.h - which local user owns the other end of a TCP connection or
 * the socket a UDP datagram came from (sock_diag), for RPC callers on
 * this host */
#ifndef DRAC_PEERUID_H
#define DRAC_PEERUID_H

#include <stdint.h>
#include <sys/socket.h>

/* proto IPPROTO_TCP or IPPROTO_UDP; local is dracd's end, peer the
 * caller's (same family).  1 and *uid set when the caller's socket is on
 * this host, 0 when no socket of this host has that address, -1 on
 * error (errno). */
int peeruid_lookup(int proto, const struct sockaddr_storage *local,
		   const struct sockaddr_storage *peer, uint32_t *uid);

/* 1 when addr (a caller's source) is one of this host's addresses, 0
 * when not, -1 on error. */
int peeruid_is_local(const struct sockaddr_storage *addr);

#endif
