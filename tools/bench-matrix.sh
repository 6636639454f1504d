# bench-matrix.sh - the matrix of `tools/bench-relay --matrix` (issue 19). Sourced by
# bench-relay after its build, dnsmasq and temp dir; uses its baseline(), result_line(),
# detail_line(), rate_of(), relay_cpu_of() and bench-lib.sh. Every case runs the three
# sides one after the other in the same run: the ceiling (the load straight into the
# sink), Postfix, Breakwater (a fresh data dir per case). One CSV row per side and run;
# tools/bench-relay-report.py turns the rows into medians, the table and the plot.
# shellcheck shell=bash

ALL_CASES="c10 c50 c500 100k keepalive domains20 tls latency"

# NAME -> "sessions size keepalive domains tls tool"; tool: smtp-source via
# postfix-baseline.sh, or bench-smtp for what smtp-source cannot do.
case_params() {
  case $1 in
    c10) echo "10 10240 0 0 0 source" ;;
    c50) echo "50 10240 0 0 0 source" ;;
    c500) echo "500 10240 0 0 0 source" ;;
    100k) echo "50 102400 0 0 0 source" ;;
    keepalive) echo "50 10240 1 0 0 source" ;;
    domains20) echo "50 10240 0 20 0 smtp" ;;
    tls) echo "50 10240 0 0 1 smtp" ;;
    latency) echo "50 10240 0 0 0 smtp" ;;
    *) return 1 ;;
  esac
}

CSV_HEADER=run,case,side,sessions,size,msgs,msgs_per_s,relay_cpu_ms_per_msg,peak_rss_mib,peak_pss_mib,proc_write_bytes_per_msg,dev_write_bytes_per_msg,device,lat250_p50_ms,lat250_p99_ms,sink_p50_ms,sink_p99_ms,allocs_per_msg
row() { local IFS=,; echo "$*" >>"$OUT/results.csv"; }
per_msg() { awk -v v="$1" -v n="$2" -v k="${3:-1}" 'BEGIN{printf "%.0f", v*k/n}'; }
kv() { sed -nE "s/^result: .*\b$1=([^ ]+).*/\1/p" "$2" | head -1; }
mib_of() { sed -nE "s/.*$1 ([0-9]+) MiB.*/\1/p" <<<"$2" | head -1; }

# smtp_load OUT TARGET MSGS SESSIONS SIZE DOMAINS TLS RATE(or "") LABEL
smtp_load() {
  local out=$1 target=$2 msgs=$3 conc=$4 size=$5 domains=$6 tls=$7 rate=$8 label=$9
  local args=(run --target "$target" --sink "127.0.0.1:$SINK_PORT" -n "$msgs" -s "$conc" -l "$size"
    --domains "$domains" --label "$label" --timeout "$PHASE_TIMEOUT")
  ((tls)) && args+=(--tls --sink-tls)
  [[ -n $rate ]] && args+=(--rate "$rate")
  log "bench-smtp ${args[*]}"
  timeout --kill-after=15 $((PHASE_TIMEOUT + 30)) "$SMTP" "${args[@]}" | tee "$out" || return 1
  [[ -n $(kv rate "$out") ]]
}

# Relay-side accounting around a load: CPU ticks, bytes written, PSS samples.
# measure_begin DIR PIDS...  /  measure_end DIR MSGS PIDS... -> M_CPU M_PSS M_PWB M_DWB M_DEV
measure_begin() {
  local dir=$1; shift
  M_T0=$(ticks "$1"); M_W0=0
  local p; for p in "$@"; do M_W0=$((M_W0 + $(proc_written "$p"))); done
  read -r M_DEV M_S0 < <(dev_written "$TMP")
  local root=$1
  # The relay's processes now (Postfix forks and reaps children all the time).
  while alive "$root"; do pss_of "$root" $(pgrep -P "$root" || true); sleep 0.5; done >"$dir/pss.log" &
  SAMPLER=$!
}
measure_end() {
  local dir=$1 msgs=$2; shift 2
  local t1 w1=0 s1 p
  t1=$(ticks "$1")
  for p in "$@"; do w1=$((w1 + $(proc_written "$p"))); done
  read -r _ s1 < <(dev_written "$TMP")
  kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=
  M_CPU=$(ticks_ms_per_msg $((t1 - M_T0)) "$msgs")
  M_PSS=$(awk '$1>p{p=$1} END{printf "%.0f", p/1024}' "$dir/pss.log")
  M_PWB=$(per_msg $((w1 - M_W0)) "$msgs")
  M_DWB=$(per_msg $((s1 - M_S0)) "$msgs" 512)
}

# One case, one run: ceiling, Postfix, Breakwater; appends three rows.
run_case() {
  local r=$1 name=$2 conc size keep domains tls tool msgs dir out rate
  read -r conc size keep domains tls tool < <(case_params "$name")
  msgs=$N; [[ $name == 100k ]] && msgs=$((N / 5 > 0 ? N / 5 : 1))
  dir=$TMP/r$r-$name; mkdir -p "$dir"
  log "=== run $r, case $name: $msgs msgs, $size bytes, $conc sessions, keepalive $keep, domains $domains, tls $tls ($tool)"
  # postfix-baseline.sh reads these globals through baseline().
  CONC=$conc SIZE=$size KEEP=(); ((keep)) && KEEP=(--keepalive)
  local n_saved=$N; N=$msgs

  # --- ceiling ---
  out=$dir/ceiling.out
  if [[ $tool == source ]]; then
    baseline "$out" --direct >/dev/null || die "ceiling ($name) failed"
    row "$r" "$name" ceiling "$conc" "$size" "$msgs" "$(rate_of "$(result_line "$out")")" "" "" "" "" "" "" "" "" "" "" ""
  else
    rate=; [[ $name == latency ]] && rate=$(half_peak ceiling)
    smtp_load "$out" "127.0.0.1:$SINK_PORT" "$msgs" "$conc" "$size" "$domains" "$tls" "$rate" "direct (no relay)" >/dev/null ||
      die "ceiling ($name) failed: $(tail -3 "$out")"
    row "$r" "$name" ceiling "$conc" "$size" "$msgs" "$(kv rate "$out")" "" "" "" "" "" "" \
      "$(kv lat250_p50_ms "$out")" "$(kv lat250_p99_ms "$out")" "" "" ""
  fi
  [[ $name == c50 ]] && C50[ceiling]=$(tail -1 "$OUT/results.csv" | cut -d, -f7)

  # --- Postfix ---
  out=$dir/postfix.out
  if [[ $tool == source ]]; then
    local s0 s1 det dev
    read -r dev s0 < <(dev_written "$TMP")
    baseline "$out" >/dev/null || die "postfix ($name) failed"
    read -r _ s1 < <(dev_written "$TMP")
    det=$(detail_line "$out")
    row "$r" "$name" postfix "$conc" "$size" "$msgs" "$(rate_of "$(result_line "$out")")" "$(relay_cpu_of "$det")" \
      "$(mib_of RSS-sum "$det")" "$(mib_of PSS-sum "$det")" "" "$(per_msg $((s1 - s0)) "$msgs" 512)" "$dev" "" "" "" "" ""
  else
    rate=; [[ $name == latency ]] && rate=$(half_peak postfix)
    start_postfix "$dir/postfix" "$PORT" "$SINK_PORT" "$domains" "$tls"
    measure_begin "$dir" "$PFB_MASTER"
    smtp_load "$out" "127.0.0.1:$PORT" "$msgs" "$conc" "$size" "$domains" "$tls" "$rate" "postfix relay" >/dev/null ||
      die "postfix ($name) failed: $(tail -3 "$out")"
    measure_end "$dir" "$msgs" "$PFB_MASTER"
    stop_postfix
    row "$r" "$name" postfix "$conc" "$size" "$msgs" "$(kv rate "$out")" "$M_CPU" "" "$M_PSS" "" "$M_DWB" "$M_DEV" \
      "$(kv lat250_p50_ms "$out")" "$(kv lat250_p99_ms "$out")" "$(kv sink_p50_ms "$out")" "$(kv sink_p99_ms "$out")" ""
  fi
  [[ $name == c50 ]] && C50[postfix]=$(tail -1 "$OUT/results.csv" | cut -d, -f7)

  # --- Breakwater ---
  out=$dir/breakwater.out
  start_breakwater "$dir/bw" "$PORT" "$BW_ADDR"
  configure_breakwater "$SINK_PORT" "$DNS_ARG" "$conc" "$domains" "$tls"
  wait_listening "$BW_ADDR" "$PORT"
  local daemon a0=0 a1=0 allocs=
  daemon=$(daemon_of "$BW") || die "no mail daemon under the supervisor $BW"
  ((ALLOC)) && a0=$(bw_metric breakwater_alloc_allocations_total)
  measure_begin "$dir" "$BW" "$daemon"
  if [[ $tool == source ]]; then
    baseline "$out" --target "$BW_ADDR:$PORT" --pid "$BW" >/dev/null ||
      die "breakwater ($name) failed; daemon output: $(tail -5 "$dir/bw/breakwater.out")"
  else
    rate=; [[ $name == latency ]] && rate=$(half_peak breakwater)
    smtp_load "$out" "$BW_ADDR:$PORT" "$msgs" "$conc" "$size" "$domains" "$tls" "$rate" "breakwater" >/dev/null ||
      die "breakwater ($name) failed: $(tail -3 "$out"); daemon output: $(tail -5 "$dir/bw/breakwater.out")"
  fi
  alive "$BW" || die "breakwater died during $name: $(tail -5 "$dir/bw/breakwater.out")"
  wait_queue_empty
  measure_end "$dir" "$msgs" "$BW" "$daemon"
  ((ALLOC)) && { a1=$(bw_metric breakwater_alloc_allocations_total); allocs=$(per_msg $((a1 - a0)) "$msgs"); }
  local rss brate l50= l99= s50= s99=
  rss=$(awk '{printf "%.0f", $1/1024}' <<<"$(vmhwm_kib "$daemon")")
  if [[ $tool == source ]]; then
    brate=$(rate_of "$(result_line "$out")")
  else
    brate=$(kv rate "$out") l50=$(kv lat250_p50_ms "$out") l99=$(kv lat250_p99_ms "$out")
    s50=$(kv sink_p50_ms "$out") s99=$(kv sink_p99_ms "$out")
  fi
  stop_breakwater
  row "$r" "$name" breakwater "$conc" "$size" "$msgs" "$brate" "$M_CPU" "$rss" "$M_PSS" "$M_PWB" "$M_DWB" "$M_DEV" \
    "$l50" "$l99" "$s50" "$s99" "$allocs"
  [[ $name == c50 ]] && C50[breakwater]=$brate
  N=$n_saved
  return 0
}

# Half of SIDE's c50 throughput in this run (200 msgs/s when c50 is not in the run).
half_peak() { awk -v r="${C50[$1]:-}" 'BEGIN{ if (r + 0 > 0) printf "%.0f", r / 2; else print 200 }'; }

run_matrix() {
  local cases=${CASES//,/ } c r
  [[ -n $cases ]] || cases=$ALL_CASES
  for c in $cases; do case_params "$c" >/dev/null || die "unknown case '$c' (cases: $ALL_CASES)"; done
  # The latency case needs c50's rates: run c50 first when both are asked for.
  if [[ " $cases " == *" latency "* && " $cases " == *" c50 "* ]]; then
    local rest=
    for c in $cases; do [[ $c == c50 ]] || rest+=" $c"; done
    cases="c50$rest"
  fi
  OUT=${OUT:-/var/tmp/bench-relay-$(date +%Y%m%d-%H%M%S)}
  mkdir -p "$OUT"
  echo "$CSV_HEADER" >"$OUT/results.csv"
  {
    echo "date: $(date -u '+%F %T UTC')"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "machine: $(nproc) cores, $(uname -r), data on $(dev_written "$TMP" | cut -d' ' -f1) ($(stat -f -c %T "$TMP"))"
    echo "postfix: $(postconf -d mail_version 2>/dev/null | sed 's/.*= //')"
    echo "command: tools/bench-relay --matrix -n $N --runs $RUNS${CASES:+ --cases $CASES}$( ((ALLOC)) && echo ' --alloc')"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$OUT/meta.txt"
  declare -gA C50=()
  for r in $(seq "$RUNS"); do
    C50=()
    for c in $cases; do run_case "$r" "$c"; done
  done
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
  python3 "$ROOT/tools/bench-relay-report.py" "$OUT" || die "the report failed (rows in $OUT/results.csv)"
  log "results in $OUT (results.csv, table.md, plot.png)"
}
