#!/usr/bin/env bash
# Real programs, unmodified, with and without libgsend-preload.so: CPU time
# of the sender per packet, side by side (bench/README.md, "Real programs").
#
#   bench/real-programs.sh [BUILD_DIR | path/to/libgsend-preload.so]
#                          [--rounds N] [--frames F] [--sync] [--only LIST]
#                          [--rcvbuf BYTES]
#
# Senders (each run once with GIO and once with the preload library per
# round, the order alternating from round to round; medians reported):
#   udpsink   gst-launch-1.0 videotestsrc num-buffers=F !
#             video/x-raw,format=RGB,width=1280,height=720 ! rtpvrawpay !
#             udpsink host=127.0.0.1 port=P
#   multi     the same into multiudpsink clients=127.0.0.1:P1,127.0.0.1:P2
#   fakesink  the same into fakesink: everything but the sending
#   nice      two libnice agents on loopback (bench/nice-pair.c) sending
#             1922 batches of 100 datagrams of 1200 bytes
# Every packet is checked on arrival (bench/udp-check.c for GStreamer: count,
# bytes, RTP sequence numbers, one marker per frame; nice-pair checks its own
# sequence numbers); a run that lost anything is counted in the "lossy runs"
# column (--rcvbuf 65536 shrinks the receive buffers, default 256 MiB, to
# see that happen). CPU time is user+system of the gst-launch process
# (/usr/bin/time) and of libnice's sending thread (getrusage RUSAGE_THREAD).
#
# The sinks get sync=false (send as fast as possible; --sync keeps
# GStreamer's default, clock-paced sending: 10 s per 300-frame run). The
# preload runs get GSEND_STATS=1; whatever the library prints is shown.
# Missing Debian packages are installed with apt-get (as root, or sudo).
# Not part of the test command.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
rounds=5
frames=300
sync=false
only="udpsink multi fakesink nice"
rcvbuf=$((256 * 1024 * 1024))
target=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    --sync) sync=true; shift ;;
    --only) only=$2; shift 2 ;;
    --rcvbuf) rcvbuf=$2; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "real-programs: unknown option $1" >&2; exit 2 ;;
    *) target=$1; shift ;;
  esac
done

# --- packages -----------------------------------------------------------
packages=(gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
          libnice-dev libglib2.0-dev pkg-config gcc time)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "real-programs: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- the preload library --------------------------------------------------
if [ -n "$target" ] && [ -f "$target" ]; then
  preload=$(cd "$(dirname "$target")" && pwd)/$(basename "$target")
else
  build=${target:-${BUILD_DIR:-$repo/_build}}
  build=$(mkdir -p "$build" && cd "$build" && pwd)
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$repo" --buildtype=release >/dev/null
  fi
  log=$(mktemp)
  if ! meson compile -C "$build" gsend-preload >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
  preload=$build/libgsend-preload.so
fi
[ -f "$preload" ] || { echo "real-programs: no $preload" >&2; exit 1; }

# --- helpers ----------------------------------------------------------------
work=$(mktemp -d /tmp/gsend-real-programs.XXXXXX)
receiver_pid=""
cleanup() {
  if [ -n "$receiver_pid" ]; then kill "$receiver_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -Wall -o "$work/udp-check" "$repo/bench/udp-check.c"
# shellcheck disable=SC2046
cc -O2 -Wall -o "$work/nice-pair" "$repo/bench/nice-pair.c" $(pkg-config --cflags --libs nice gio-2.0)

caps="video/x-raw,format=RGB,width=1280,height=720"
source_args() { echo "videotestsrc num-buffers=$1 ! $caps ! rtpvrawpay"; }

# Starts udp-check with $1 ports; sets receiver_pid and ports (space-separated).
start_receiver() {
  : >"$work/recv.out"
  "$work/udp-check" --rtp --frames "$2" --rcvbuf "$rcvbuf" --watchdog 600 "$1" >"$work/recv.out" &
  receiver_pid=$!
  for _ in $(seq 1 100); do
    grep -q '^PORTS' "$work/recv.out" && break
    sleep 0.05
  done
  ports=$(awk '/^PORTS/ { $1 = ""; print }' "$work/recv.out")
  [ -n "$ports" ] || { echo "real-programs: receiver did not start" >&2; exit 1; }
}
# Stops it; sets recv_packets and recv_ok (1 when nothing lost or damaged).
stop_receiver() {
  kill -USR1 "$receiver_pid"
  recv_ok=1
  wait "$receiver_pid" || recv_ok=0
  receiver_pid=""
  recv_packets=$(awk '/^TOTAL/ { print $3 }' "$work/recv.out")
  grep -q '^TOTAL.* OK$' "$work/recv.out" || recv_ok=0
}

# gst_pipeline KIND FRAMES: the sink part, receivers must be started first.
gst_pipeline() {
  local p1 p2
  case "$1" in
    udpsink) echo "$(source_args "$2") ! udpsink host=127.0.0.1 port=${ports# } sync=$sync" ;;
    multi) read -r p1 p2 <<<"$ports"
           echo "$(source_args "$2") ! multiudpsink clients=127.0.0.1:$p1,127.0.0.1:$p2 sync=$sync" ;;
    fakesink) echo "$(source_args "$2") ! fakesink sync=$sync" ;;
  esac
}
receivers_for() { case "$1" in udpsink) echo 1 ;; multi) echo 2 ;; *) echo 0 ;; esac; }

# run_one KIND VARIANT: one measured run; appends "cpu packets ok" to
# $work/KIND.VARIANT and prints a progress line.
run_one() {
  local kind=$1 variant=$2 n cpu packets ok envs=()
  if [ "$variant" = preload ]; then envs=(env GSEND_STATS=1 LD_PRELOAD="$preload"); else envs=(env); fi
  if [ "$kind" = nice ]; then
    ok=1
    "${envs[@]}" "$work/nice-pair" --rcvbuf "$rcvbuf" >"$work/out" 2>"$work/err" || ok=0
    if ! grep -q '^NICE' "$work/out"; then
      echo "real-programs: nice-pair failed ($variant):" >&2
      cat "$work/out" "$work/err" >&2
      exit 1
    fi
    read -r cpu packets < <(awk '/^NICE/ { print $17 + $19, $3 }' "$work/out")
    grep -q ' OK$' "$work/out" || ok=0
    awk '/^NICE/ { print $21 + $23 }' "$work/out" >>"$work/nice-process.$variant"
  else
    n=$(receivers_for "$kind")
    [ "$n" -gt 0 ] && start_receiver "$n" "$frames"
    # shellcheck disable=SC2046
    if ! /usr/bin/time -f "%U %S" -o "$work/time" "${envs[@]}" gst-launch-1.0 -q \
         $(gst_pipeline "$kind" "$frames") >"$work/out" 2>"$work/err"; then
      echo "real-programs: gst-launch-1.0 failed ($kind, $variant):" >&2
      cat "$work/out" "$work/err" >&2
      exit 1
    fi
    cpu=$(awk 'NF == 2 { print $1 + $2 }' "$work/time" | tail -n 1)
    if [ "$n" -gt 0 ]; then
      stop_receiver
      packets=$recv_packets ok=$recv_ok
    else
      packets=0 ok=1
    fi
  fi
  echo "$cpu $packets $ok" >>"$work/$kind.$variant"
  if [ "$variant" = preload ] && [ ! -f "$work/stats.$kind" ]; then
    grep -v '^Command exited with non-zero status' "$work/err" >"$work/stats.$kind" || true
  fi
  printf '  %-9s %-8s cpu %6.2f s  packets %8s  %s\n' "$kind" "$variant" "$cpu" "$packets" \
    "$(if [ "$kind" = fakesink ]; then echo "(nothing sent)"; elif [ "$ok" = 1 ]; then echo "all arrived"; else echo "LOSS OR DAMAGE:"; fi)"
  if [ "$ok" != 1 ]; then
    if [ "$kind" = nice ]; then sed 's/^/      /' "$work/out"; else grep -E '^(port|TOTAL)' "$work/recv.out" | sed 's/^/      /'; fi
  fi
}

# --- proof that the shim is active ------------------------------------------
echo "gsend real programs: $preload"
echo "proof the preload library is active (LD_DEBUG=bindings, short runs):"
check_bindings() {
  local label=$1; shift
  rm -f "$work"/bind.*
  LD_DEBUG=bindings LD_DEBUG_OUTPUT="$work/bind" LD_PRELOAD="$preload" "$@" >/dev/null 2>&1 || true
  local to_shim to_gio
  to_shim=$(cat "$work"/bind.* 2>/dev/null | grep -E "normal symbol \`g_(socket_send|datagram_based_send)" | grep -c "libgsend-preload.so" || true)
  to_gio=$(cat "$work"/bind.* 2>/dev/null | grep -E "normal symbol \`g_(socket_send|datagram_based_send)" | grep -c "to [^ ]*libgio-2.0" || true)
  printf '  %-32s %s binding(s) of GIO send functions to libgsend-preload.so, %s to libgio\n' \
    "$label" "$to_shim" "$to_gio"
  cat "$work"/bind.* 2>/dev/null | grep -E "normal symbol \`g_(socket_send|datagram_based_send)" \
    | sed -E 's/^[[:space:]]*[0-9]+:[[:space:]]*//; s/binding file ([^ ]*) \[0\] to ([^ ]*) \[0\]: normal symbol/\1 -> \2/' \
    | sort -u | sed 's/^/      /'
  if [ "$to_shim" -eq 0 ] || [ "$to_gio" -ne 0 ]; then
    echo "real-programs: the preload library did not take the send calls of $label" >&2
    exit 1
  fi
}
case " $only " in *" udpsink "*|*" multi "*)
  ports="9"  # discard port, nothing listens: only the bindings matter here
  check_bindings "gst-launch-1.0 ... udpsink" gst-launch-1.0 -q $(gst_pipeline udpsink 2)
  ports="9 9"
  check_bindings "gst-launch-1.0 ... multiudpsink" gst-launch-1.0 -q $(gst_pipeline multi 2) ;;
esac
case " $only " in *" nice "*)
  check_bindings "nice-pair" "$work/nice-pair" --batches 2 ;;
esac

# --- measured runs ----------------------------------------------------------
echo "runs ($rounds rounds, GIO and preload alternating):"
for r in $(seq 1 "$rounds"); do
  echo " round $r"
  for kind in $only; do
    if [ $((r % 2)) -eq 1 ]; then order="gio preload"; else order="preload gio"; fi
    for v in $order; do run_one "$kind" "$v"; done
  done
done

# --- table ------------------------------------------------------------------
# stats FILE COLUMN: "median min max" of a column.
stats() {
  sort -g -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END {
    if (NR == 0) { print "- - -"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    print m, v[1], v[NR] }'
}
lossy() { awk '$3 != 1 { n++ } END { print n + 0 }' "$1"; }
# packets_of KIND: the count of a run without loss (all agree), else the
# largest count seen.
packets_of() {
  cat "$work/$1.gio" "$work/$1.preload" \
    | awk '$3 == 1 { good = $2 } $2 > most { most = $2 } END { print (good != "" ? good : most) }'
}

udp_packets=""
[ -f "$work/udpsink.gio" ] && udp_packets=$(packets_of udpsink)

echo
echo "Real programs: loopback, median of $rounds runs each (min-max), CPU time user+system"
printf '%-40s %9s %18s %18s %8s %8s %6s %7s\n' "sender" "packets" "GIO s" "preload s" \
  "GIO us" "pre. us" "ratio" "lossy"
printf '%-40s %9s %18s %18s %8s %8s %6s %7s\n' "" "" "" "" "/packet" "/packet" "" "runs"
row() {
  local label=$1 kind=$2 packets=$3 g p
  read -r gm gl gh < <(stats "$work/$kind.gio" 1)
  read -r pm pl ph < <(stats "$work/$kind.preload" 1)
  local lost=$(( $(lossy "$work/$kind.gio") + $(lossy "$work/$kind.preload") ))
  awk -v l="$label" -v n="$packets" -v gm="$gm" -v gl="$gl" -v gh="$gh" -v pm="$pm" -v pl="$pl" \
      -v ph="$ph" -v lost="$lost" -v runs="$((2 * rounds))" 'BEGIN {
    printf "%-40s %9s %18s %18s %8.2f %8.2f %6.2f %7s\n", l, n,
      sprintf("%.2f (%.2f-%.2f)", gm, gl, gh), sprintf("%.2f (%.2f-%.2f)", pm, pl, ph),
      (n > 0 ? gm / n * 1e6 : 0), (n > 0 ? pm / n * 1e6 : 0), (gm > 0 ? pm / gm : 0),
      lost "/" runs }'
}
for kind in $only; do
  case "$kind" in
    udpsink) row "gst rtpvrawpay ! udpsink" udpsink "$(packets_of udpsink)" ;;
    multi) row "gst rtpvrawpay ! multiudpsink (2 dest.)" multi "$(packets_of multi)" ;;
    fakesink) row "gst rtpvrawpay ! fakesink (no send)" fakesink "${udp_packets:-0}" ;;
    nice) row "libnice pair, sending thread" nice "$(packets_of nice)" ;;
  esac
done
if [ -f "$work/udpsink.gio" ] && [ -f "$work/fakesink.gio" ]; then
  read -r ug _ < <(stats "$work/udpsink.gio" 1)
  read -r up _ < <(stats "$work/udpsink.preload" 1)
  read -r fg _ < <(stats "$work/fakesink.gio" 1)
  read -r fp _ < <(stats "$work/fakesink.preload" 1)
  awk -v n="$udp_packets" -v ug="$ug" -v up="$up" -v fg="$fg" -v fp="$fp" 'BEGIN {
    g = ug - fg; p = up - fp
    printf "%-40s %9s %18.2f %18.2f %8.2f %8.2f %6.2f\n", "  send path share (udpsink - fakesink)",
      n, g, p, g / n * 1e6, p / n * 1e6, (g > 0 ? p / g : 0) }'
fi
if [ -f "$work/nice-process.gio" ]; then
  read -r ng _ < <(stats "$work/nice-process.gio" 1)
  read -r np _ < <(stats "$work/nice-process.preload" 1)
  printf '%-40s %9s %18.2f %18.2f\n' "  libnice pair, whole process (both)" "" "$ng" "$np"
fi
echo "packets: datagrams sent (GStreamer: as counted by the receivers, fewer in lossy runs; fakesink: payloaded);"
echo "ratio: preload/GIO median CPU time (< 1: the preload library is cheaper);"
echo "sinks sync=$sync, $frames frames of 1280x720 RGB; libnice: 1922 batches x 100 x 1200 B."

total_lossy=0
for kind in $only; do
  total_lossy=$((total_lossy + $(lossy "$work/$kind.gio") + $(lossy "$work/$kind.preload")))
done
if [ "$total_lossy" -gt 0 ]; then
  echo "LOSS: $total_lossy run(s) lost or damaged packets (their receivers' reports are above);"
  echo "      their CPU figures are not comparable (packets: the largest count received)."
fi

echo
echo "GSEND_STATS=1: standard error of the first preload run of each sender:"
for kind in $only; do
  if [ -s "$work/stats.$kind" ]; then
    echo "  $kind:"; sed 's/^/    /' "$work/stats.$kind"
  else
    echo "  $kind: (nothing printed: this libgsend-preload.so does not print statistics)"
  fi
done
[ "$total_lossy" -eq 0 ]
