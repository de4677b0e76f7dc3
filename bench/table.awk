# SPDX-License-Identifier: MIT
# bench/table.awk - lines "workload peer metric value unit" -> one markdown
# table (median, min, max, spread = (max - min) / median, runs) on stdout and,
# with -v csv=FILE, a CSV with every value.  Rows are grouped by workload
# (sorted), in first-seen order inside one.  Lines of another shape are
# ignored.  Used by bench/run.sh and bench/compare.sh.
function fmt(v,   a) {
    a = v < 0 ? -v : v
    if (a >= 1000) return commas(sprintf("%.0f", v))
    if (a >= 10) return sprintf("%.1f", v)
    if (a >= 1) return sprintf("%.2f", v)
    return sprintf("%.3f", v)
}
function commas(s,   neg, out) {
    neg = (substr(s, 1, 1) == "-"); if (neg) s = substr(s, 2)
    out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    return (neg ? "-" : "") s out
}
NF == 5 && $4 ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ {
    k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $5
    if (!(k in n)) { order[++nk] = k; n[k] = 0 }
    v[k, ++n[k]] = $4 + 0
}
END {
    print "| workload | peer | metric | median | min | max | spread | unit | runs |"
    print "|---|---|---|---:|---:|---:|---:|---|---:|"
    if (csv != "") print "workload,peer,metric,unit,median,min,max,spread_pct,runs,values" > csv
    # rows grouped by workload (W1..W6 first), first-seen order inside one
    for (i = 1; i <= nk; i++) { split(order[i], f, SUBSEP); if (!(f[1] in seen)) { seen[f[1]] = 1; ws[++nw] = f[1] } }
    for (i = 2; i <= nw; i++) { x = ws[i]; l = i - 1; while (l >= 1 && ws[l] > x) { ws[l + 1] = ws[l]; l-- } ws[l + 1] = x }
    no = 0
    for (a = 1; a <= nw; a++)
        for (i = 1; i <= nk; i++) { split(order[i], f, SUBSEP); if (f[1] == ws[a]) sorted[++no] = order[i] }
    for (i = 1; i <= no; i++) {
        k = sorted[i]; m = n[k]
        for (j = 1; j <= m; j++) s[j] = v[k, j]
        for (j = 2; j <= m; j++) {          # insertion sort, m is small
            x = s[j]; l = j - 1
            while (l >= 1 && s[l] > x) { s[l + 1] = s[l]; l-- }
            s[l + 1] = x
        }
        med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
        lo = s[1]; hi = s[m]
        spread = med != 0 ? sprintf("%.0f%%", 100 * (hi - lo) / med) : "-"
        split(k, f, SUBSEP)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", f[1], f[2], f[3], fmt(med), fmt(lo), fmt(hi), spread, f[4], m
        vals = ""
        for (j = 1; j <= m; j++) vals = vals (j > 1 ? ";" : "") v[k, j]
        if (csv != "") printf "%s,%s,%s,%s,%g,%g,%g,%s,%d,%s\n", f[1], f[2], f[3], f[4], med, lo, hi, (med != 0 ? sprintf("%.1f", 100 * (hi - lo) / med) : ""), m, vals > csv
    }
}