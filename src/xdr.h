/* xdr.h - the two XDR primitives the DRAC RPC code needs: big-endian
 * 32-bit words (RFC 4506), shared by the server and the client library */
#ifndef DRAC_XDR_H
#define DRAC_XDR_H

#include <stdint.h>

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

#endif
