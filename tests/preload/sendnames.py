# What the preload runners (run-glib-tests.py, run-call-counts.py and the
# gdb script gdb-count-calls.py) share: GIO's seven send names, the ones
# libgsend-preload.so replaces, and how a run reports its result.

SEVEN = (
    "g_datagram_based_send_messages",
    "g_socket_send_messages",
    "g_socket_send_message",
    "g_socket_send_message_with_timeout",
    "g_socket_send_to",
    "g_socket_send",
    "g_socket_send_with_blocking",
)


def report(failures, passed):
    """Prints the failures (exit status 1), or the sentence @passed (0)."""
    if failures:
        print("FAIL:")
        for f in failures:
            print(f"  {f}")
        return 1
    print(f"PASS: {passed}")
    return 0
