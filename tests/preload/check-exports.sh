#!/bin/sh
# The shim must define exactly GIO's seven send names and nothing else
# (any other defined symbol would interpose on more of GIO than intended).
# usage: check-exports.sh <path/to/libgsend-preload.so>
set -eu
lib="$1"
expected='g_datagram_based_send_messages
g_socket_send
g_socket_send_message
g_socket_send_message_with_timeout
g_socket_send_messages
g_socket_send_to
g_socket_send_with_blocking'
actual=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | LC_ALL=C sort)
echo "defined dynamic symbols of $lib:"
echo "$actual" | sed 's/^/  /'
if [ "$actual" != "$(echo "$expected" | LC_ALL=C sort)" ]; then
    echo "FAIL: expected exactly:"
    echo "$expected" | sed 's/^/  /'
    exit 1
fi
soname=$(readelf -d "$lib" | awk -F'[][]' '/SONAME/ {print $2}')
echo "soname: $soname"
[ "$soname" = "libgsend-preload.so" ] || { echo "FAIL: soname is '$soname'"; exit 1; }
echo "PASS: exactly the seven GIO send names"
