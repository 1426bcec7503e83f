#!/bin/sh
# Runs a test program in a new network namespace whose loopback sends
# through a rate-limited queue (tc tbf), so that a UDP socket's send buffer
# really fills and sends stop part way. Skips (77) where namespaces or tc
# are not available (not root, no iproute2).
command -v unshare >/dev/null 2>&1 || exit 77
command -v ip >/dev/null 2>&1 || exit 77
command -v tc >/dev/null 2>&1 || exit 77
unshare -n true 2>/dev/null || exit 77
GSEND_TEST_NETNS=1 exec unshare -n sh -c '
  ip link set lo up || exit 77
  if [ -n "$GSEND_TEST_LO_MTU" ]; then ip link set lo mtu "$GSEND_TEST_LO_MTU" || exit 77; fi
  tc qdisc add dev lo root tbf rate 20mbit burst 64kb limit 20mb || exit 77
  exec "$@"' sh "$@"
