# train_summary.awk — one net's rows of bench/train.sh's CSV: each implementation's
# seconds at 1 and 2 threads, its best, deepc's best / the fastest reference's
# best, deepc's GFLOP/s against the FMA peak, and "table:" rows for the README.
# awk -F, -v net=cnn -v labels="id=name|..." -v installed="deepc torch13 ..."
#     -v flops=N -v peak=GFLOPS -v cores=N -f train_summary.awk train.csv
function best_of(id) { # sets B (seconds, 0 if none) and BT (its threads)
    B = 0; BT = 0
    for (th = 1; th <= 2; th++)
        if ((id, th) in secs && (B == 0 || secs[id, th] < B)) { B = secs[id, th]; BT = th }
}
function threads_word(n) { return n " thread" (n > 1 ? "s" : "") }
function cell(id, th) { return (id, th) in secs ? sprintf("%.3f", secs[id, th]) : "-" }
NR > 1 && $1 == net { secs[$3, $2] = $4; rss[$3, $2] = $5 }
END {
    n = split(labels, pairs, "|")
    for (i = 1; i <= n; i++) {
        eq = index(pairs[i], "="); ids[i] = substr(pairs[i], 1, eq - 1)
        name[ids[i]] = substr(pairs[i], eq + 1)
    }
    split(installed, inst, " ")
    for (i in inst) is_inst[inst[i]] = 1
    NET = toupper(net)
    printf "%s epoch, seconds    %22s %9s %9s   %s\n", NET, "1 thread", "2 threads", "best", "peak RSS at best"
    fastest = ""; fb = 0; others = ""; oratios = ""
    for (i = 1; i <= n; i++) {
        id = ids[i]
        if (!(id in is_inst)) { printf "  %-38s not installed\n", name[id]; continue }
        best_of(id)
        if (B == 0) { printf "  %-38s failed\n", name[id]; continue }
        printf "  %-38s %9s %9s %9.3f   %.0f MB (%s)\n", name[id], cell(id, 1), cell(id, 2), B,
            rss[id, BT], threads_word(BT)
        if (id == "deepc") { db = B; dbt = BT; drss = rss[id, BT]; continue }
        if (fb == 0 || B < fb) { fb = B; fastest = id; fbt = BT; frss = rss[id, BT] }
    }
    label = net == "mlp" ? "Fashion-MNIST MLP epoch (batch 32, Adam)" : \
        "Fashion-MNIST CNN epoch (`models/fashion_cnn.ini`'s layers, batch 64, Adam)"
    if (db == 0) { print "  deepc failed: no ratios"; exit }
    if (fastest == "") print "  no reference ran: no ratios"
    else {
        printf "%s: deepc %.3f s (%s) / fastest reference %s %.3f s (%s) = %.2fx\n", net, db,
            threads_word(dbt), name[fastest], fb, threads_word(fbt), db / fb
        printf "table: | %s, best thread count each | %.3g s (%s) | fastest, %s: %.3g s (%s) | %.2fx |\n",
            label, db, threads_word(dbt), name[fastest], fb, threads_word(fbt), db / fb
        for (i = 1; i <= n; i++) {
            id = ids[i]
            if (id == "deepc" || id == fastest || !(id in is_inst)) continue
            best_of(id)
            if (B == 0) continue
            others = others (others == "" ? "" : "; ") sprintf("%s: %.3g s (%s)", name[id], B, threads_word(BT))
            oratios = oratios (oratios == "" ? "" : ", ") sprintf("%.2fx", db / B)
        }
        if (others != "") printf "table: | same, the other references | | %s | %s |\n", others, oratios
    }
    if (("deepc", 1) in secs && ("deepc", 2) in secs) {
        printf "%s: deepc speed-up from 1 to 2 threads: %.2fx\n", net, secs["deepc", 1] / secs["deepc", 2]
        printf "table: | deepc %s epoch, 1 -> 2 threads | %.2fx speed-up | | |\n", NET, secs["deepc", 1] / secs["deepc", 2]
    }
    if (flops > 0) {
        g = flops / db * 1e-9
        printf "%s: %.4g GFLOP counted from the layer shapes: deepc %.1f GFLOP/s", net, flops * 1e-9, g
        if (fastest != "") printf ", %s %.1f GFLOP/s", name[fastest], flops / fb * 1e-9
        if (peak > 0) printf "; deepc = %.1f%% of the %d-core FMA peak (%.0f GFLOP/s)", 100 * g / peak, cores, peak
        printf "\n"
        if (peak > 0)
            printf "table: | %s epoch GFLOP/s (%.4g GFLOP from the layer shapes) | %.1f (%.1f%% of the %d-core FMA peak, %.0f) | %s%s | |\n",
                NET, flops * 1e-9, g, 100 * g / peak, cores, peak,
                fastest == "" ? "" : name[fastest] ": ", fastest == "" ? "" : sprintf("%.1f", flops / fb * 1e-9)
    }
    if (net == "cnn" && fastest != "")
        printf "table: | peak RSS training the CNN | %.0f MB | %s: %.0f MB | %.2fx |\n", drss, name[fastest], frss, drss / frss
}
