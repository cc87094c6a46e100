#!/bin/bash
# Baseline for bench_grant: the way weaker tools grant, one `nft add
# element` process per address.  Same machine, same run.
n=${1:-500}
unshare -n bash -c '
nft -f - <<EON
table inet drac { set authed { type ipv4_addr; flags timeout; timeout 30m; }; }
EON
t0=$(date +%s%N)
for i in $(seq 1 '"$n"'); do nft add element inet drac authed "{ 10.9.$((i / 250)).$((i % 250 + 1)) timeout 10m }"; done
t1=$(date +%s%N)
echo "baseline: one nft process per grant: $(( '"$n"' * 1000000000 / (t1 - t0) )) grants/s ('"$n"' grants)"'
