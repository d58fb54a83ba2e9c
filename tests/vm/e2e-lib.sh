# Shell shared by the suite 'vm' tests in which a guest encodes through
# vsockenc and the host checks the H.264 it wrote (offload-e2e, vsock-e2e,
# garbage-e2e).
# Sourced, not run:
#   . "$(dirname "$0")/e2e-lib.sh"
# The caller sets HFXD, VERIFY, PLUGINS and WORK (a fresh directory) first,
# and may set HFXD_EXTRA (more hfxd options, split on blanks).
# Installs an EXIT/INT/TERM trap that stops hfxd.

HFXD_PID=
e2e_cleanup() {
    [ -n "$HFXD_PID" ] && kill "$HFXD_PID" 2>/dev/null && wait "$HFXD_PID" 2>/dev/null
    HFXD_PID=
    true
}
trap e2e_cleanup EXIT INT TERM

# e2e_start_hfxd ADDR...: hfxd listening on every ADDR, logging to
# $WORK/hfxd.log; returns once it printed "hfxd: ready" (all listeners bound),
# or 1 with its log shown when it exited or took over 10 s. The HELLO
# deadline is 300 s: a virtio-serial port is connected from QEMU's start,
# seconds before the guest speaks (docs/testing.md, "Things to know").
e2e_start_hfxd() {
    for a; do set -- "$@" --listen "$a"; shift; done
    # shellcheck disable=SC2086 # HFXD_EXTRA is a list of options
    "$HFXD" --handshake-timeout 300000 "$@" ${HFXD_EXTRA:-} 2> "$WORK/hfxd.log" &
    HFXD_PID=$!
    i=0
    while ! grep -q '^hfxd: ready$' "$WORK/hfxd.log" 2>/dev/null; do
        if ! kill -0 "$HFXD_PID" 2>/dev/null || [ $i -ge 200 ]; then
            echo "FAIL: hfxd did not start"; cat "$WORK/hfxd.log"
            return 1
        fi
        sleep 0.05; i=$((i + 1))
    done
}

# e2e_stop_hfxd: stop hfxd and show its log (one line per session).
e2e_stop_hfxd() {
    e2e_cleanup
    echo "--- hfxd log"; cat "$WORK/hfxd.log"
}

# e2e_fps FILE FRAMES: the guest's frame rate from gst-launch's
# "Execution ended after 0:00:02.056355500" in FILE (its first such line).
e2e_fps() {
    secs=$(sed -n 's/^Execution ended after \([0-9]*\):\([0-9]*\):\([0-9.]*\)$/\1 \2 \3/p' "$1" \
        | head -n1 | awk '{ printf "%.3f", $1 * 3600 + $2 * 60 + $3 }')
    [ -n "$secs" ] && awk -v f="$2" -v s="$secs" \
        'BEGIN { printf "guest pipeline: %d frames in %.2f s = %.1f fps\n", f, s, f / s }'
    true
}

# e2e_verify FILE.h264 FRAMES WxH [FORMAT [SOURCE_PROPS]]: FILE must decode
# to exactly FRAMES pictures, each at PSNR >= 35 dB against the same
# videotestsrc pattern rendered on the host (in FORMAT as the guest sent
# it, default NV12; videotestsrc with SOURCE_PROPS, e.g.
# "horizontal-speed=8"; compared as I420, RGB converted with BT.601 as an
# hfx host converts it, docs/protocol.md §5.1).
e2e_verify() {
    ref=$WORK/ref-$3-$2-${4:-NV12}.y4m
    case ${4:-NV12} in
        NV12 | I420) matrix= ;;
        *) matrix=,colorimetry=bt601 ;;
    esac
    # shellcheck disable=SC2086 # SOURCE_PROPS is a list of properties
    GST_PLUGIN_PATH=$PLUGINS gst-launch-1.0 -q videotestsrc num-buffers="$2" ${5:-} ! \
        "video/x-raw,format=${4:-NV12},width=${3%x*},height=${3#*x}" ! videoconvert ! \
        "video/x-raw,format=I420$matrix" ! y4menc ! filesink location="$ref" \
        || { echo "FAIL: rendering the reference"; return 1; }
    "$VERIFY" "$1" --reference "$ref" --expect-frames "$2" --min-psnr 35 \
        || { echo; echo "FAIL: frame count or PSNR of $1"; return 1; }
    echo
}
