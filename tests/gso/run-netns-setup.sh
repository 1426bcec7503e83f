#!/bin/sh
# Runs a test program in a network namespace of its own, set up by name:
#   run-netns-setup.sh SETUP PROGRAM [ARGS...]
#   ping   loopback up; ping sockets allowed for every group
#   bfifo  also loopback MTU 1500 and a byte-limited queue: an htb class at
#          10 Gbit/s whose leaf is bfifo with a limit of 30000 bytes
#   pfifo  as bfifo, but the leaf counts packets: pfifo with a limit of 30
#   tbf    also loopback MTU 1500 and tbf: 300 kbit/s, a 70000-byte bucket,
#          a 30000-byte queue (the test replaces it to refill the bucket)
# Skips (77) only where network namespaces cannot be made (not root, no
# unshare); a set-up step that fails inside the namespace is a failure.
setup=$1
shift
command -v unshare >/dev/null 2>&1 || exit 77
unshare -n true 2>/dev/null || exit 77
GSEND_TEST_NETNS_SETUP=$setup exec unshare -n sh -c '
  set -e
  ip link set lo up
  echo "0 2147483647" > /proc/sys/net/ipv4/ping_group_range
  case "$GSEND_TEST_NETNS_SETUP" in
    ping) ;;
    bfifo)
      ip link set lo mtu 1500
      tc qdisc add dev lo root handle 1: htb default 10
      tc class add dev lo parent 1: classid 1:10 htb rate 10gbit
      tc qdisc add dev lo parent 1:10 bfifo limit 30000
      ;;
    pfifo)
      ip link set lo mtu 1500
      tc qdisc add dev lo root handle 1: htb default 10
      tc class add dev lo parent 1: classid 1:10 htb rate 10gbit
      tc qdisc add dev lo parent 1:10 pfifo limit 30
      ;;
    tbf)
      ip link set lo mtu 1500
      tc qdisc add dev lo root tbf rate 300kbit burst 70000 limit 30000
      ;;
    *) echo "unknown set-up $GSEND_TEST_NETNS_SETUP" >&2; exit 1 ;;
  esac
  exec "$@"' sh "$@"
