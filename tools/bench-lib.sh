# bench-lib.sh - shell functions shared by tools/bench-relay and tools/bench-conns.
# Sourced, not run. The caller defines log() and die(), sets TMP (its temp dir) and
# BIN (the breakwater binary), and stops what these start from its EXIT trap
# (bench_stop_all). Every process started here is remembered by PID and stopped by PID.
# shellcheck shell=bash

BW= DNSM= PFB_MASTER_CONF=

alive() { [[ $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) =~ ^[RSDT]$ ]]; }

# CPU ticks (user+sys) of PID, its reaped children, and its live children
# (the way ../shared/bench/postfix-baseline.sh counts, so the numbers compare).
ticks() {
  { cut -d' ' -f14-17 "/proc/$1/stat"; for c in $(pgrep -P "$1" || true); do cut -d' ' -f14-15 "/proc/$c/stat"; done; } 2>/dev/null |
    awk '{for (i = 1; i <= NF; i++) s += $i} END {print s + 0}'
}
ticks_ms_per_msg() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN{printf "%.2f", 1000*t/hz/n}'; }

# The mail daemon: the supervisor's child started as `breakwater daemon`.
daemon_of() {
  local c
  for c in $(pgrep -P "$1" || true); do
    tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -qw daemon && { echo "$c"; return 0; }
  done
  return 1
}

# Bytes a process caused to be written to storage (/proc/PID/io write_bytes less
# cancelled_write_bytes: page-cache writeback it caused, not the journal).
proc_written() {
  awk '/^write_bytes:/{w=$2} /^cancelled_write_bytes:/{c=$2} END{print w-c+0}' "/proc/$1/io" 2>/dev/null || echo 0
}

# "DEVICE SECTORS_WRITTEN" of the block device holding DIR (/sys/dev/block/M:m/stat,
# the same counter as /proc/diskstats' sectors written; 512-byte sectors).
dev_written() {
  local dev maj min
  dev=$(stat -c %d "$1")
  maj=$(( (dev >> 8) & 0xfff )) min=$(( (dev & 0xff) | ((dev >> 12) & 0xfff00) ))
  if [[ -r /sys/dev/block/$maj:$min/stat ]]; then
    echo "$(basename "$(readlink -f "/sys/dev/block/$maj:$min")") $(awk '{print $7}' "/sys/dev/block/$maj:$min/stat")"
  else
    echo "unknown 0"
  fi
}

# Sum of PSS (KiB) over the given PIDs.
pss_of() { (cd /proc && cat $(printf '%s/smaps_rollup ' "$@") 2>/dev/null) | awk '/^Pss:/{p+=$2} END{print p+0}'; }
vmhwm_kib() { awk '/^VmHWM:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
vmrss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# start_dnsmasq PORT: a throwaway dnsmasq on 127.0.0.1:PORT that answers the
# gateway's FCrDNS check of 127.0.0.1 (PTR bench-client.invalid, its A record).
start_dnsmasq() {
  local port=$1 i
  ss -Hlun "sport = :$port" | grep -q . && die "UDP port $port is busy (choose --dns-port)"
  dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --user=root --pid-file= \
    --listen-address=127.0.0.1 --bind-interfaces --port="$port" \
    --host-record=bench-client.invalid,127.0.0.1 --local=/#/ >"$TMP/dnsmasq.out" 2>&1 &
  DNSM=$!
  for i in $(seq 50); do
    alive "$DNSM" || die "dnsmasq exited: $(cat "$TMP/dnsmasq.out")"
    ss -Hlun "sport = :$port" | grep -q "127.0.0.1:$port" && break
    ((i < 50)) || die "dnsmasq is not listening on 127.0.0.1:$port"
    sleep 0.1
  done
  log "dnsmasq PID $DNSM on 127.0.0.1:$port"
}

# write_board FILE PORT DATA1_ADDR
write_board() {
  cat >"$1" <<EOF
name = "bench"
description = "relay benchmark"
listener_port = $2
hostname = "bench.breakwater.invalid"

[[interfaces]]
name = "Management"
address = "127.0.9.1"
prefix = 8

[[interfaces]]
name = "Data 1"
address = "$3"
prefix = 8

[[interfaces]]
name = "Data 2"
address = "127.0.9.3"
prefix = 8

[console]
device = "stdio"
baud = 115200

[watchdog]
kind = "soft"
timeout_secs = 60
EOF
}

bw() { "$BIN" cli --data-dir "$DATA" "$@"; }
cfg() {  # one CLI command; on failure show the exact command and error
  local out
  if ! out=$(bw "$@" 2>&1); then
    log "CLI command failed: breakwater cli $*"
    printf '%s\n' "$out" >&2
    die "configuration step failed"
  fi
}

# start_breakwater DIR PORT ADDR: the supervisor (BW) on a fresh data dir DIR/data.
start_breakwater() {
  local dir=$1 port=$2 addr=$3 i
  DATA=$dir/data
  mkdir -p "$dir"
  write_board "$dir/board.toml" "$port" "$addr"
  "$BIN" run --data-dir "$DATA" --board-file "$dir/board.toml" --quiet >"$dir/breakwater.out" 2>&1 &
  BW=$!
  log "breakwater PID $BW, data dir $DATA"
  for i in $(seq 100); do
    alive "$BW" || die "breakwater exited at start: $(tail -5 "$dir/breakwater.out")"
    bw status >/dev/null 2>&1 && break
    ((i < 100)) || die "breakwater did not answer 'status' within 10 s"
    sleep 0.1
  done
}

# configure_breakwater SINK_PORT DNS_PORT(0: host DNS) CONC DOMAINS(0: example.com) TLS(0/1)
configure_breakwater() {
  local sink_port=$1 dns_port=$2 conc=$3 domains=$4 tls=$5 d
  if ((domains == 0)); then
    cfg listenerconfig edit IncomingMail rcptaccess new example.com accept
    cfg smtproutes new example.com "127.0.0.1:$sink_port"
  else
    for d in $(seq "$domains"); do
      cfg listenerconfig edit IncomingMail rcptaccess new "d$d.example.com" accept
      cfg smtproutes new "d$d.example.com" "127.0.0.1:$sink_port"
    done
  fi
  cfg listenerconfig edit IncomingMail hostaccess new sendergroup ALLOWED_LIST 127.0.0.1 --policy TRUSTED
  # The load comes from one address, 127.0.0.1, with CONC sessions plus the
  # ones still closing. Postfix exempts its $mynetworks (localhost) from its
  # per-client connection limit; the gateway's TRUSTED policy allows 600 per
  # address, so its accept-time per-address cap (50) is raised to match.
  cfg listenerconfig limits --max-connections-per-ip 600
  if ((conc > 250)); then
    # 500 sessions and more: the listener's own limit (300), TRUSTED's 600 per
    # address and the 1000 in total would refuse part of the load. Not more than
    # needed: `commit` checks that the limits fit the daemon's open-file limit.
    local lim=$((conc + conc / 5 + 50))
    cfg listenerconfig edit IncomingMail setup --max-concurrency "$lim"
    cfg listenerconfig edit IncomingMail hostaccess editpolicy TRUSTED --max-concurrency "$lim"
    cfg listenerconfig limits --max-connections-total $((lim + 100)) --max-connections-per-ip "$lim"
  fi
  # TRUSTED already offers STARTTLS (Preferred) with the factory Demo
  # certificate; the next hop (bench-smtp's sink) must be reached over TLS too.
  ((tls)) && cfg destconfig edit Default --use_tls required
  ((dns_port)) && cfg dnsconfig servers "127.0.0.1:$dns_port"
  cfg commit "bench"
}

# wait_listening ADDR PORT
wait_listening() {
  local i
  for i in $(seq 50); do
    ss -Hltn "sport = :$2" | awk '{print $4}' | grep -qx "$1:$2" && return 0
    ((i < 50)) || die "nothing is listening on $1:$2"
    sleep 0.1
  done
}

# Waits (10 s at most) until `status` shows an empty queue.
wait_queue_empty() {
  local queued= i
  for i in $(seq 100); do
    queued=$(bw status 2>/dev/null | sed -nE 's/^ *Messages in queue: *([0-9]+).*/\1/p') || true
    [[ $queued == 0 ]] && return 0
    sleep 0.1
  done
  die "the gateway queue is not empty 10 s after the run: '${queued:-?}' messages"
}

stop_breakwater() {
  [[ -n $BW ]] || return 0
  if alive "$BW"; then
    kill -TERM "$BW" 2>/dev/null || true
    for _ in $(seq 100); do alive "$BW" || break; sleep 0.1; done
    alive "$BW" && { log "breakwater ($BW) ignored SIGTERM for 10 s: SIGKILL"; kill -KILL "$BW" 2>/dev/null || true; }
  fi
  wait "$BW" 2>/dev/null || true
  BW=
}

# A counter of the running daemon's `metrics` (0 when absent).
bw_metric() { bw metrics 2>/dev/null | awk -v m="$1" '$1 == m {printf "%.0f", $2; f=1} END{if (!f) print 0}'; }

# --- a throwaway Postfix relay, set up the way ../shared/bench/postfix-baseline.sh
#     does it, for the cases whose load smtp-source cannot make (bench-smtp as the
#     client and the sink): optional STARTTLS on both legs, N destination domains.
# start_postfix STATE IN_PORT SINK_PORT DOMAINS TLS ; sets PFB_MASTER (master PID)
start_postfix() {
  local state=$1 in_port=$2 sink_port=$3 domains=$4 tls=$5 conf=$1/etc d rd tm i
  local extra=()
  rm -rf "$state"; mkdir -p "$conf" "$state/spool"
  cp /etc/postfix/master.cf "$conf/"; : >"$conf/main.cf"
  if ((domains == 0)); then
    rd=example.com tm="example.com=smtp:[127.0.0.1]:$sink_port"
  else
    rd= tm=
    for d in $(seq "$domains"); do rd+="${rd:+ }d$d.example.com" tm+="${tm:+, }d$d.example.com=smtp:[127.0.0.1]:$sink_port"; done
  fi
  if ((tls)); then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=relay.bench.invalid \
      -keyout "$conf/key.pem" -out "$conf/cert.pem" >/dev/null 2>&1 || die "openssl: cannot make Postfix's certificate"
    extra=("smtpd_tls_cert_file=$conf/cert.pem" "smtpd_tls_key_file=$conf/key.pem" smtpd_tls_security_level=may
      smtp_tls_security_level=encrypt)
  fi
  postconf -c "$conf" -e compatibility_level=3.6 \
    "queue_directory=$state/spool" "data_directory=$state/data" "maillog_file=$state/maillog" \
    myhostname=relay.bench.invalid mydestination= alias_maps= alias_database= local_recipient_maps= \
    inet_interfaces=127.0.0.1 inet_protocols=ipv4 mynetworks=127.0.0.0/8 "relay_domains=$rd" \
    "transport_maps=inline:{ $tm }" "${extra[@]}" || die "postconf"
  postconf -c "$conf" -M# smtp/inet
  postconf -c "$conf" -M "127.0.0.1:$in_port/inet=127.0.0.1:$in_port inet n - n - - smtpd"
  postconf -c "$conf" -F '*/*/chroot=n'
  postfix -c "$conf" start >"$state/start.log" 2>&1 || die "postfix start: $(cat "$state/start.log")"
  PFB_MASTER_CONF=$conf
  for i in $(seq 100); do
    ss -Hltn "sport = :$in_port" | awk '{print $4}' | grep -qx "127.0.0.1:$in_port" && break
    ((i < 100)) || die "postfix is not listening on 127.0.0.1:$in_port"
    sleep 0.1
  done
  PFB_MASTER=$(tr -d ' ' <"$state/spool/pid/master.pid")
  log "postfix master PID $PFB_MASTER ($state)"
}

stop_postfix() {
  [[ -n $PFB_MASTER_CONF ]] || return 0
  local kids
  kids=$(pgrep -P "${PFB_MASTER:-0}" || true)
  postfix -c "$PFB_MASTER_CONF" stop >/dev/null 2>&1 || true
  for _ in $(seq 50); do alive "${PFB_MASTER:-0}" || break; sleep 0.1; done
  for k in $kids; do alive "$k" && kill "$k" 2>/dev/null; done
  PFB_MASTER_CONF= PFB_MASTER=
}

bench_stop_all() {
  stop_postfix
  if [[ -n $DNSM ]] && alive "$DNSM"; then kill "$DNSM" 2>/dev/null || true; wait "$DNSM" 2>/dev/null || true; fi
  stop_breakwater
}
