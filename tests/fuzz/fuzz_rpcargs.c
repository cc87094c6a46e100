/* fuzz_rpcargs.c - the RPC message layer: the server's call decoder and
 * reply encoder, the client's reply and rpcbind decoders, dracd.conf.
 * Any bytes: no crash, and a decoded DRACPROC_ADD address survives a
 * round trip through the client's encoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dracauth.h"
#include "rpcsrv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_call c, c2;
	uint8_t out[RPC_REPLY_MAX], call[DRAC_CALL_MAX];
	uint32_t stat;
	const char *why;
	uint16_t port;
	char **v, err[128];
	int rc = rpc_call_decode(data, size, &c);
	size_t n;

	n = rpc_reply_encode(out, sizeof(out), &c, rc, ADD_SUCCESS);
	if (rc == RPC_DROP ? n != 0 : n == 0)
		abort();
	if (n && drac_reply_decode(out, n, c.xid, &stat, &why) == -1 && rc == RPC_CALL_OK &&
	    c.proc == DRACPROC_ADD)
		abort();
	if (rc == RPC_CALL_OK && c.proc == DRACPROC_ADD) {
		if (c.addr.family != AF_INET && c.addr.family != AF_INET6)
			abort();
		n = drac_call_encode(call, sizeof(call), c.xid, &c.addr);
		if (!n || rpc_call_decode(call, n, &c2) != RPC_CALL_OK ||
		    !addr_eq(&c.addr, &c2.addr))
			abort();
	}
	if (size >= 4) {
		uint32_t xid = (uint32_t)data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3];

		drac_reply_decode(data, size, xid, &stat, &why);
		drac_rpcb_decode(data, size, xid, AF_INET, &port);
		drac_rpcb_decode(data, size, xid, AF_INET6, &port);
	}
	if (drac_conf_parse((const char *)data, size, "f", &v, err, sizeof(err)) >= 0)
		drac_conf_free(v);
	return 0;
}
